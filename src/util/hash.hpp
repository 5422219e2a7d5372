// Streaming SHA-256: Nettle, loaded on first use (util/nettle.hpp), with the CPU's SHA
// extensions where present. Throws Error(unsupported) where Nettle cannot be loaded.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace gantry {

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;

    void update(const void* data, std::size_t n);
    void update(std::string_view s) { update(s.data(), s.size()); }
    // Lower-case hex of the digest; the object must not be updated afterwards.
    std::string hex_final();

    static std::string hex_of(std::string_view data);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace gantry
