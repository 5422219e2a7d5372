// The work the service must not do in its own threads: whatever forks without exec (a container's
// start and its monitor, create's scratch, exec's namespace joins) runs in a helper process,
// gantry itself (/proc/self/exe --root STORE ...), exec'ed right after the fork with only
// async-signal-safe calls in between. The helper is the CLI's own command calling the same
// library function (engine::create, engine::start, engine::exec): no second copy of their logic.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::engine_api {

// The helper's standard streams (-1: /dev/null); CTTY: a new session whose controlling terminal
// is IN (a pty's slave), so the terminal's size changes reach it (SIGWINCH).
struct HelperIo {
    int in = -1, out = -1, err = -1;
    bool ctty = false;
};

// Starts gantry --root STORE_ROOT ARGS...; its pid. Every other descriptor is closed in it, the
// signal mask and SIGPIPE's disposition are reset. Throws Error when the fork fails.
pid_t spawn_helper(const std::string& store_root, const std::vector<std::string>& args,
                   const HelperIo& io);

// The exit status of PID (128+N for signal N), once it ends.
int wait_helper(pid_t pid);

struct HelperResult {
    int status = 0;
    std::string out, err;
};
// ARGS run to their end with INPUT on stdin; what they printed.
HelperResult run_helper(const std::string& store_root, const std::vector<std::string>& args,
                        const std::string& input = "");

// A helper that failed as docker's error answer: ApiError with the status for gantry's exit
// status (3 not found 404, 5 conflict 409, 2 and 4 400, 7 501, else 500) and its message.
[[noreturn]] void throw_helper_failure(const HelperResult& r, const std::string& what);

} // namespace gantry::engine_api
