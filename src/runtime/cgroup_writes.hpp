// What a container's limits (oci::LinuxResources) are in cgroup files: the writes, in order, that
// apply them on a cgroup v1 host (a file per controller hierarchy) or on cgroup v2, with runc
// 1.1's conversions (memory+swap to memory.swap.max, cpu shares to cpu.weight, blkio weight to
// io.weight) and its refusals (`unified` on v1, realtime cpu on v2, ...). Both `gantry run`'s
// flags and `gantry oci`'s bundles are applied through it (cgroup.hpp, container_cgroup.hpp).
// Pure: it reads no file, so its rules are unit-tested.
#pragma once

#include "oci/linux_resources.hpp"
#include "oci/runtime_spec.hpp"

#include <string>
#include <vector>

namespace gantry::runtime {

enum class CgroupVersion { v1, v2 };

struct CgroupWrite {
    std::string controller; // the hierarchy on v1 ("memory"), the controller to enable on v2
    std::string file;       // "memory.limit_in_bytes"
    std::string value;
    std::string field;         // what asked for it: "linux.resources.memory.limit"
    std::string fallback_file; // written instead (with fallback_value) when FILE is missing
    std::string fallback_value;
    bool optional = false; // skipped when the file is missing (a kernel without the feature)
};

// The writes that apply R, in order. Throws Error(invalid) naming the field for a value the
// cgroup version cannot take: `unified` on v1; realtime cpu, swappiness, disableOOMKiller,
// kernelTCP, blockIO.leafWeight and per-device weights on v2; a memory+swap limit below the memory
// limit on v2. Device rules are writes on v1 only: on v2 they are an eBPF program
// (device_filter.hpp).
std::vector<CgroupWrite> cgroup_writes(const oci::LinuxResources& r, CgroupVersion v);

// The device cgroup rules a container gets, as runc 1.1 builds them (libcontainer/specconv
// createDevices and CreateCgroupConfig): the spec's linux.resources.devices, then runc's default
// allowed devices (mknod of any node; /dev/null, zero, full, random, urandom, tty, ptmx, pts,
// net/tun), less a default whose path one of DEVICES (linux.devices) takes. A linux.devices node
// gets no rule of its own: without one in linux.resources.devices it is made but cannot be
// opened (EPERM), as under runc (tests/e2e/test_oci_lifecycle.py compares the two); podman and
// docker add an allow rule for each --device.
std::vector<oci::DeviceRule> container_device_rules(const std::vector<oci::DeviceRule>& spec_rules,
                                                    const std::vector<oci::DeviceNode>& devices);

// "c 1:3 rwm", "a" (v1 devices.allow / devices.deny syntax).
std::string device_rule_text(const oci::DeviceRule& rule);

// runc's conversions to cgroup v2 values.
std::uint64_t cpu_weight_of_shares(std::uint64_t shares); // 2..262144 -> 1..10000
std::uint64_t io_weight_of_blkio(std::uint16_t weight);   // 10..1000 -> 1..10000

} // namespace gantry::runtime
