// The early start's state (EarlyStart, launcher.hpp), internal to runtime/: early_start.cpp
// makes it (the shared mapping, the helper and the container process, which start on another
// CPU while gantry reads the image), and run() takes it over or cancels it.
#pragma once

#include "runtime/launcher.hpp"
#include "util/fd.hpp"

#include <sys/mman.h>
#include <sys/types.h>

namespace gantry::runtime {

namespace detail {
struct EarlyShared; // in the early start's own mapping (early_start.cpp)
}

struct EarlyStart::State {
    void* map = MAP_FAILED;
    detail::EarlyShared* sh = nullptr;
    pid_t helper = -1;
    bool pinned = false; // the helper was moved off our CPU
    bool taken = false;  // handed over or cancelled
    bool handed = false; // handed over
    Fd err_r, sock;      // our ends: the error pipe; the socket (go, then tmpfs and terminal)

    // The CLONE_NEW* flags the process was (or is being) created with.
    int namespace_flags() const;
    // Waits until the helper made the process (first letting it onto our CPU if it has not
    // run yet), and reaps it unless it stays as the keeper.
    void await_helper();
    static void reap(pid_t pid);
    // Whether the helper stays, as the keeper of the process's mount namespace.
    bool keeping() const;
    // Not taken yet: kills and reaps the process, and a helper that would keep its namespace.
    void cancel();
    // Hands the launch over through GO_SOCK (our end, which run() took) and returns once the
    // process exec'ed the workload or exited.
    pid_t hand_over(const Launch& l, bool single_id, int go_sock);
    ~State();
};

} // namespace gantry::runtime
