// The clone of a container's first process into its new namespaces, on the two paths run()
// takes without an early start: the fast start that shares gantry's memory while gantry sleeps
// (CLONE_VM | CLONE_VFORK), and the plain fork; the CLONE_NEW* flags a spec's namespaces ask
// for; and the error that says why the kernel refused to create them.
#pragma once

#include "util/error.hpp"

#include <string>
#include <vector>

namespace gantry::runtime {
struct Launch;
}

namespace gantry::runtime::detail {

// CLONE_NEWUSER, CLONE_NEWNS, ... for the spec's namespaces ("user", "mount", ...).
int clone_flags(const std::vector<std::string>& namespaces);

// The error for a clone (or the early start's) that could not create the namespaces (ERR),
// with the reason read from the system (idmap.hpp's diagnose_userns) and its fix.
Error namespaces_error(int err);

// Whether the container process can be made by clone_sharing_memory: it writes its own id maps
// (a rootless single-id map), no cgroup is joined from outside (no on_created) and no --init.
bool can_share_memory(const Launch& l);

// The fast start: clone(CLONE_VM | CLONE_VFORK) like posix_spawn. The child runs on its own
// stack in the parent's memory while the parent sleeps until the workload is exec'ed (or the
// child exited): no page tables copied, no copy-on-write faults on either side, no hand-over
// through a pipe. It needs nothing from the parent after the clone, so it is used when the
// child can write its own id maps (a rootless single-id map: the kernel lets a process map
// just its own uid and gid) and no cgroup is joined from outside; PID 1 for --init never
// execs, so it keeps the fork. The child only reads the parent's objects (the Launch is const)
// and closes descriptors by number: the parent finds everything as it left it.
// Returns the child's pid once it exec'ed the workload or exited, or -1 (errno set).
long clone_sharing_memory(const Launch& l, int err_fd, int fd_sock, bool single_id);

// The plain start: a fork into new NAMESPACES. 0 in the child, its pid in the parent, -1
// (errno set) on failure.
long fork_into_namespaces(const std::vector<std::string>& namespaces);

} // namespace gantry::runtime::detail
