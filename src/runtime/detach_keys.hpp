// docker's detach keys: the byte sequence on an attached client's stdin that detaches the client
// and leaves the container (or exec'd process) running. Written as docker writes them
// (`ctrl-p,ctrl-q`, the default; `ctrl-x`; `a`), each key one byte, matched as moby's
// term.EscapeProxy matches them: a key that could begin the sequence is held back until the
// sequence completes (detach, nothing of it forwarded) or breaks (the held bytes forwarded).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace gantry::runtime {

// docker's default detach sequence
inline constexpr const char* kDefaultDetachKeys = "ctrl-p,ctrl-q";

class DetachKeys {
  public:
    // The sequence KEYS as docker writes it ("" is the default, ctrl-p,ctrl-q). A key that is
    // neither one character nor ctrl- with one of a-z @ [ \ ] ^ _ is an Error(usage) naming it.
    static DetachKeys parse(const std::string& keys);
    // The bytes of DATA to forward to the process; true in DETACHED once the sequence completed
    // (what followed it in DATA is dropped, as docker's proxy drops it).
    std::string scan(std::string_view data, bool& detached);
    const std::string& sequence() const { return keys_; }

  private:
    std::string keys_;     // one byte per key
    std::size_t held_ = 0; // how many of keys_ the last bytes matched
};

} // namespace gantry::runtime
