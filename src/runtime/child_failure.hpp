// Failures inside a forked or cloned child (the container process, a helper, exec's worker): no
// exception crosses the fork. The child throws ChildFail (or Error) inside child_guard, which
// writes "<exit code> <message>\n<hint>" to a pipe and exits with that code; the parent reads
// the report with read_failure and throws it as an Error. A pipe that closes on exec with
// nothing in it means the workload started.
#pragma once

#include "util/error.hpp"

#include <string>
#include <unistd.h>

namespace gantry::runtime::detail {

// Thrown inside a forked child; reported to the parent as "<exit code> <message>\n<hint>".
struct ChildFail {
    Errc code;
    std::string message, hint;
};
[[noreturn]] void fail(Errc code, const std::string& msg, const std::string& hint = {});
[[noreturn]] void fail_errno(const std::string& msg, const std::string& hint = {});

// Runs `body` in a child; any failure is written to err_fd and the child exits with its code.
template <class F>
[[noreturn]] void child_guard(int err_fd, F&& body);
void write_failure(int err_fd, int code, const std::string& message, const std::string& hint);
// From now on, a failure written to ERR_FD (the process's stderr, once nobody reads its report:
// an OCI container after `create` returned) is text for a person: "MESSAGE\nhint: HINT\n", no
// exit code in front.
void report_failures_as_text(int err_fd);

// Reads the child's failure report (empty when it exec'ed); throws Error for a report.
// Returns "overlay" for an OverlayUnavailable report (code 0) so the caller can retry.
std::string read_failure(int err_r);

} // namespace gantry::runtime::detail

template <class F>
[[noreturn]] void gantry::runtime::detail::child_guard(int err_fd, F&& body) {
    try {
        body();
    } catch (const ChildFail& f) {
        write_failure(err_fd, static_cast<int>(f.code), f.message, f.hint);
        ::_exit(static_cast<int>(f.code));
    } catch (const Error& e) {
        write_failure(err_fd, static_cast<int>(Errc::run_failed), e.message(), e.hint());
        ::_exit(125);
    } catch (const std::exception& e) {
        write_failure(err_fd, 125, e.what(), "");
        ::_exit(125);
    }
    ::_exit(125);
}
