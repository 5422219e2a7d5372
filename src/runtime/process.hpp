// The container process's last steps before it becomes the workload, shared by the launcher
// (`run`) and `exec`: the rlimits, a working directory created and verified inside the root,
// HOME from the container's /etc/passwd when the env has none (as runc), the capability
// bounding set, the user and its groups, the five capability sets (capabilities.hpp),
// no_new_privs, seccomp, every descriptor above 2 closed on exec, the signal mask cleared, then
// the exec of the spec's args with the spec's env (searching PATH as docker does). Failures
// throw ChildFail (child_failure.hpp), with docker's exit codes for a command that is missing
// (127) or cannot be run (126).
#pragma once

#include "oci/runtime_spec.hpp"

#include <linux/filter.h>
#include <string>
#include <vector>

namespace gantry::runtime::detail {

// cwd (created in-root unless MAKE_CWD is false, as for an exec'ed process; verified), user,
// capabilities, no_new_privs, seccomp, fds > 2 closed on exec, signal mask cleared, then exec of
// the spec's args with the spec's env. SECCOMP: the filter when s.seccomp
// (seccomp::seccomp_program; empty: the default profile), loaded with seccomp(2)'s SECCOMP_FLAGS.
[[noreturn]] void finish_process(const oci::RuntimeSpec& s, bool single_id,
                                 const std::vector<sock_filter>& seccomp,
                                 unsigned seccomp_flags = 0, bool make_cwd = true);

// Drops the capability bounding set to `caps` and sets no_new_privs (for helpers the runtime
// runs inside the container before the workload, such as ldconfig).
void restrict_helper(const std::vector<std::string>& caps);

// Marks every descriptor above 2 close-on-exec (for the workload, and for hooks).
void close_on_exec_from_3();

} // namespace gantry::runtime::detail
