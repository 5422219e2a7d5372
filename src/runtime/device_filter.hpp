// The device rules of a container on cgroup v2 (linux.resources.devices): cgroup v2 has no
// devices.allow file; the kernel asks an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) attached to
// the cgroup at every open and mknod of a device node. This owns that program, as runc 1.1
// makes it (libcontainer/cgroups/devices): the rules folded with cgroup v1's semantics (an "a"
// rule resets to allow-all or deny-all, later rules add or remove exceptions, a hole punched in
// a wildcard exception is refused), then one block per exception (type, access subset, major,
// minor), default last; loaded with bpf(2) and attached to the cgroup with BPF_F_ALLOW_MULTI
// (the host's own programs on ancestors still apply).
#pragma once

#include "oci/linux_resources.hpp"
#include "util/fd.hpp"

#include <linux/bpf.h>
#include <vector>

namespace gantry::runtime {

// The rules as cgroup v1 would hold them after writing each to devices.allow / devices.deny in
// turn: a default, and exceptions (each with the other action), sorted by type, major, minor.
struct DeviceRuleSet {
    bool default_allow = false; // none yet: deny-all, as runc's emulator starts
    std::vector<oci::DeviceRule> exceptions;
};
// Throws Error(invalid) naming the rule for an unknown type or access letter, or a deny (or an
// allow, in allow-all mode) that would punch a hole in a wildcard exception: cgroup v1 ignores
// those, runc refuses them.
DeviceRuleSet fold_device_rules(const std::vector<oci::DeviceRule>& rules);

// The program deciding for bpf_cgroup_dev_ctx (access_type: type | access << 16, major, minor):
// 1 allows, 0 denies.
std::vector<bpf_insn> device_filter_program(const DeviceRuleSet& set);

// Loads PROGRAM (BPF_PROG_LOAD) and attaches it to the cgroup v2 directory CGROUP_DIR
// (BPF_PROG_ATTACH, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI). Throws Error(run_failed) naming the
// directory and the kernel's verifier log. The program stays attached while the cgroup lives.
void attach_device_filter(const std::vector<bpf_insn>& program, const std::string& cgroup_dir);

} // namespace gantry::runtime
