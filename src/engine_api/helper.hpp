// gantry re-executed as a helper process for the endpoints whose library calls fork without
// exec (a stopped container's root mounted by `gantry cp`, a build's steps): the service's
// connections are threads, and a fork of a threaded process may only exec. posix_spawn of
// /proc/self/exe's file with the signal mask and SIGPIPE's disposition reset.
#pragma once

#include "util/fd.hpp"

#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace gantry::engine_api {

// A helper: its stdout (a pipe, when asked; its stderr too with pipe_both) and otherwise its
// stderr in a memfd, read when it has ended. Killed (SIGKILL) and reaped when it goes.
struct HelperProcess {
    pid_t pid = -1;
    Fd out, err;
    HelperProcess() = default;
    HelperProcess(HelperProcess&& o) noexcept
        : pid(std::exchange(o.pid, -1)), out(std::move(o.out)), err(std::move(o.err)) {}
    HelperProcess& operator=(HelperProcess&&) = delete;
    ~HelperProcess();
};
enum class HelperOut { none, pipe, pipe_both };

// Starts ARGS (ARGS[0] an absolute path) with IN as its stdin (-1: /dev/null).
HelperProcess spawn_helper(const std::vector<std::string>& args, int in, HelperOut out);
// Waits for H; its failure is the Error it printed on stderr, its exit status the Errc.
void wait_helper(HelperProcess& h);
void kill_helper(HelperProcess& h);

} // namespace gantry::engine_api
