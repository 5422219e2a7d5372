// Places the container's process on the machine's schedulers as its spec asks:
// process.scheduler (sched_setattr(2)), process.ioPriority (ioprio_set(2)) and
// linux.memoryPolicy (set_mempolicy(2)). Called in the container's process while it still holds
// its capabilities (before the user switch and the seccomp filter, as runc's init sets the
// scheduler before finalizeNamespace), and before `create` returns, so that a setting the kernel
// refuses fails the create. The three survive execve and are inherited by the workload's
// children.
#pragma once

#include "oci/runtime_spec.hpp"

namespace gantry::runtime::detail {

// Sets the four (with linux.personality) on the calling thread; nothing for those the spec
// leaves out. A refusal is a
// ChildFail (child_failure.hpp) naming the field, the kernel's reason and the fix.
void apply_scheduling(const oci::RuntimeSpec& s);

} // namespace gantry::runtime::detail
