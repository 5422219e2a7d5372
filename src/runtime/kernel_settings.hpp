// The kernel settings a spec names for its container, beside its mounts and process: the
// linux.sysctl values, written from inside the container's namespaces through its own /proc/sys
// (before /proc/sys is made read-only), and process.oomScoreAdj, written from outside by the
// runtime (lowering it takes CAP_SYS_RESOURCE in the initial user namespace, as runc's nsexec
// writes it before it enters any).
#pragma once

#include "oci/runtime_spec.hpp"
#include "util/error.hpp"

#include <optional>
#include <sys/types.h>

namespace gantry::runtime::detail {

// Each linux.sysctl key written to ROOTFD's proc/sys (resolved in-root; it must be a procfs),
// in the spec's order. create has checked the keys against the namespaces
// (oci::check_runtime_spec). A failure is a ChildFail naming the key.
void write_sysctls(int rootfd, const oci::RuntimeSpec& spec);

// Writes ADJ to /proc/PID/oom_score_adj (PID 0: this process); nothing when ADJ is empty.
// Returns the failure as an Error(run_failed) naming process.oomScoreAdj and the fix.
std::optional<Error> set_oom_score_adj(const std::optional<int>& adj, pid_t pid);

} // namespace gantry::runtime::detail
