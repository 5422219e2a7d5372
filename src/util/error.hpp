// gantry::Error: the one exception type of libgantry. It carries a code (mapped to an exit status
// by the CLI), a one-line message naming the thing that failed, and a hint naming the fix; the
// CLI prints each as one line, whatever value it quotes (util/printable.hpp). A message that
// shows lines of output (a failed RUN step's last lines) carries them as its detail.
#pragma once

#include <string>
#include <system_error>

namespace gantry {

enum class Errc {
    internal = 1,     // a bug or an unexpected system state
    usage = 2,        // bad flags or arguments
    not_found = 3,    // image, reference, file or blob does not exist
    invalid = 4,      // malformed or hostile input: bad JSON, digest mismatch, unsafe archive entry
    conflict = 5,     // in use, already exists, locked
    io = 6,           // the filesystem refused: permission, full disk, read-only
    unsupported = 7,  // valid input gantry does not handle (schema 1, foreign layers, ...)
    network = 8,      // registry unreachable, TLS, HTTP failure
    auth = 9,         // registry denied access
    policy = 11,      // the site's image policy refused it (registries.conf blocked, policy.json)
    run_failed = 125, // docker: the container could not be started
    cannot_invoke = 126, // docker: the command cannot be invoked
    cmd_not_found = 127, // docker: the command was not found
};

class Error : public std::exception {
  public:
    Error(Errc code, std::string message, std::string hint = {})
        : code_(code), message_(std::move(message)), hint_(std::move(hint)) {}

    Errc code() const noexcept { return code_; }
    const std::string& message() const noexcept { return message_; }
    const std::string& hint() const noexcept { return hint_; }
    // Lines shown below the message as they are ('\n' between them), each printed printable:
    // output quoted for the user to read, such as a failed step's last lines. Empty: none.
    const std::string& detail() const noexcept { return detail_; }
    const char* what() const noexcept override { return message_.c_str(); }

    // Prefix the message with context ("loading x.tar: " + message), keeping code, hint and
    // detail.
    Error with_context(const std::string& context) const {
        return Error(code_, context + ": " + message_, hint_).with_detail(detail_);
    }
    // This error with DETAIL below its message.
    Error with_detail(std::string detail) const {
        Error e = *this;
        e.detail_ = std::move(detail);
        return e;
    }

  private:
    Errc code_;
    std::string message_;
    std::string hint_;
    std::string detail_;
};

// An Error for a failed system call: "<what>: <strerror(err)>", with the code derived from errno
// (ENOENT -> not_found, ENOSPC/EROFS/EACCES/EPERM/EDQUOT -> io, EEXIST/EBUSY -> conflict).
Error sys_error(int err, const std::string& what, std::string hint = {});

// Throws sys_error(errno, what) — for use right after a failing system call.
[[noreturn]] void throw_errno(const std::string& what, std::string hint = {});

// Exit status the CLI returns for an error code (documented in docs/exit-codes.md).
int exit_status(Errc code);

} // namespace gantry
