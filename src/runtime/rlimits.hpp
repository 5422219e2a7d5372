// process.rlimits of an OCI spec (docker's --ulimit), set on the container process, and the
// error that names the flag and the fix when the kernel refuses one.
#pragma once

#include "oci/runtime_spec.hpp"
#include "util/error.hpp"

#include <optional>
#include <sys/types.h>
#include <vector>

namespace gantry::runtime::detail {

// Sets process.rlimits on process PID (0: this one), in order. Raising a hard limit takes
// CAP_SYS_RESOURCE in the initial user namespace: root's gantry sets them on the container
// process from outside before it goes on (prlimit), and the container process sets them again
// itself (a no-op then; for a user other than root, the only way). Returns the first failure
// as an Error(run_failed) naming the --ulimit and the fix, or nothing.
std::optional<Error> apply_rlimits(const std::vector<oci::Rlimit>& limits, pid_t pid);

} // namespace gantry::runtime::detail
