// exec: start a process inside a running container by joining its namespaces. The joining
// process makes itself non-dumpable before it enters (so /proc/PID/exe of gantry is never
// reachable from the container: CVE-2019-5736), and then takes the same last steps as the
// container's first process (cwd verified inside the root, user, capabilities, no_new_privs,
// seccomp, fds closed).
#pragma once

#include "oci/runtime_spec.hpp"
#include "runtime/detach_keys.hpp"
#include "seccomp/seccomp.hpp"
#include "util/fd.hpp"

#include <functional>
#include <sys/types.h>

namespace gantry::runtime {

// Called in gantry with the host pid of the started process while it waits, in the container's
// namespaces, before it runs anything of the container's: where it joins the container's
// cgroups (as runc's parent writes cgroup.procs before its child execs). A throw kills it.
using BeforeExec = std::function<void(pid_t)>;

// pid: host pid of a process in the container; spec: the process to start (args, env, cwd,
// user, capabilities, seccomp, terminal). The process joins the cgroups PID is in
// (ContainerCgroup::of_process) before it runs the program. Returns its exit status; errors
// before it started throw Error (125/126/127 as for run).
// KEYS: docker's detach keys on a terminal (supervise: DETACHED set, the process left running).
int exec_in(pid_t pid, const oci::RuntimeSpec& spec, bool single_id, DetachKeys* keys = nullptr,
            bool* detached = nullptr);
// The same start without the supervision (`gantry oci exec --detach`): returns the host pid of
// the started process, our child (we are its subreaper); MASTER_OUT receives the terminal's
// master when spec.terminal. FILTER: when given (a bundle's linux.seccomp, `gantry oci exec`),
// loaded instead of gantry's profile for spec.capabilities. BEFORE_EXEC: see BeforeExec.
pid_t exec_start(pid_t pid, const oci::RuntimeSpec& spec, bool single_id, Fd* master_out,
                 const seccomp::SeccompFilter* filter, const BeforeExec& before_exec);

} // namespace gantry::runtime
