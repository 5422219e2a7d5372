// The container's first process, from its clone to the exec of the workload, as a recipe of
// named steps (child.cpp's child_main): wait for the id maps, become root in the user
// namespace, mount the root; then, inside it, mount the spec, bind the devices, pass the
// terminal, set up the injected libraries' links and files, mask paths, run the create hooks,
// enter the root, configure the process (terminal session, hostname), update the linker cache,
// run the startContainer hooks, and finish (the --init PID 1, or the workload's exec).
//
// It runs after a fork, or in a CLONE_VM child while gantry sleeps as after vfork (the
// shared-memory and early starts): it only reads the Launch and closes descriptors by number,
// so gantry finds everything as it left it. No exception leaves it: failures go to the error
// pipe (child_failure.hpp).
#pragma once

namespace gantry::runtime {
struct Launch;
}

namespace gantry::runtime::detail {

// SYNC_FD: the pipe on which the parent says go once it wrote our id maps (-1: we wrote them,
// or there is nothing to wait for). ERR_FD: the error pipe (closed on exec). FD_SOCK: where the
// child passes the tmpfs (when l.on_scratch) and then the terminal (-t); -1 for neither.
[[noreturn]] void child_main(const Launch& l, int sync_fd, int err_fd, bool single_id, int fd_sock);

} // namespace gantry::runtime::detail
