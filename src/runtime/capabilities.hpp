// process.capabilities applied to the container's process as runc 1.1 applies them: the
// bounding set dropped while still root, the permitted set kept across the user switch
// (PR_SET_KEEPCAPS), then effective, permitted and inheritable set exactly as the spec lists
// them (capset) and each ambient capability raised, every other one lowered. What the workload
// holds after its exec is the kernel's rule from there (capabilities(7)): gantry run's docker
// shape (the same list in bounding, effective and permitted) leaves a user other than root none.
#pragma once

#include "oci/runtime_spec.hpp"

#include <string>
#include <sys/capability.h>
#include <vector>

namespace gantry::runtime::detail {

// The five sets as numbers. A name this kernel lacks (above its last capability) is left out,
// as runc leaves it out (unavailable_capabilities() names them for the warning).
struct CapabilityValues {
    std::vector<cap_value_t> bounding, effective, permitted, inheritable, ambient;
    cap_value_t last = -1; // this kernel's last capability
};
CapabilityValues capability_values(const oci::CapabilitySets& caps);
std::vector<cap_value_t> capability_values(const std::vector<std::string>& names, cap_value_t last);
// This kernel's last capability (/proc/sys/kernel/cap_last_cap, asked of the kernel itself).
cap_value_t last_capability();

// The names in CAPS that this kernel does not have, each once.
std::vector<std::string> unavailable_capabilities(const oci::CapabilitySets& caps);

// While still root: drops from the bounding set every capability up to LAST not in KEEP (needs
// CAP_SETPCAP).
void drop_bounding(const std::vector<cap_value_t>& keep, cap_value_t last);
// PR_SET_KEEPCAPS: ON before the user switch keeps the permitted set across it; off after.
void keep_capabilities(bool on);
// After the user switch: effective, permitted and inheritable exactly as in CAPS, then the
// ambient set. Fails (ChildFail) naming the sets the kernel refused.
void apply_capabilities(const CapabilityValues& caps);

} // namespace gantry::runtime::detail
