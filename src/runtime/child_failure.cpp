#include "runtime/child_failure.hpp"

#include "util/printable.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace gantry::runtime::detail {

[[noreturn]] void fail(Errc code, const std::string& msg, const std::string& hint) {
    throw ChildFail{code, msg, hint};
}
[[noreturn]] void fail_errno(const std::string& msg, const std::string& hint) {
    if (errno == ENOSYS && hint.empty()) // e.g. the mount API: open_tree, move_mount, mount_setattr
        fail(Errc::run_failed, msg + ": " + std::strerror(errno),
             "gantry run needs Linux 5.12 or newer (mount_setattr, open_tree, move_mount, "
             "openat2); on a newer kernel, a seccomp profile around gantry (an outer "
             "container's) refuses the call");
    fail(Errc::run_failed, msg + ": " + std::strerror(errno), hint);
}

namespace {
int failure_text_fd =
    -1; // report_failures_as_text's descriptor (per process: it runs after a fork)
} // namespace

void report_failures_as_text(int err_fd) {
    failure_text_fd = err_fd;
}

void write_failure(int err_fd, int code, const std::string& message_in,
                   const std::string& hint_in) {
    // one line each, whatever they quote (an image's command): read_failure splits at '\n'
    std::string message = text::printable(message_in), hint = text::printable(hint_in);
    std::string msg = err_fd == failure_text_fd
                          ? message + "\n" + (hint.empty() ? "" : "hint: " + hint + "\n")
                          : std::to_string(code) + " " + message + "\n" + hint;
    ssize_t n = ::write(err_fd, msg.data(), msg.size());
    (void)n;
}

std::string read_failure(int err_r) {
    std::string msg;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(err_r, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) msg.append(buf, static_cast<size_t>(n));
    if (msg.empty()) return {};
    auto sp = msg.find(' ');
    auto nl = msg.find('\n');
    int code = std::atoi(msg.substr(0, sp).c_str());
    std::string text =
        msg.substr(sp + 1, nl == std::string::npos ? std::string::npos : nl - sp - 1);
    std::string hint = nl == std::string::npos ? "" : msg.substr(nl + 1);
    if (code == 0) return text;
    throw Error(static_cast<Errc>(code), text, hint);
}

} // namespace gantry::runtime::detail
