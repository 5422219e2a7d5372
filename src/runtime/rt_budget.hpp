// The realtime CPU budget of cgroup v1's cpu hierarchy (the kernel's CONFIG_RT_GROUP_SCHED):
// each cgroup's cpu.rt_runtime_us of every cpu.rt_period_us, which its children share and may
// not exceed together (the root's is kernel.sched_rt_runtime_us). A new cgroup has none, so a
// container's --cpu-rt-runtime needs room in every cgroup above it. Docker's daemon gives its
// parent cgroups a budget from its own --cpu-rt-runtime option (initCPURtController); gantry has
// no daemon, so a run that asks for realtime time gives each cgroup between the hierarchy's root
// and the container what the container needs (make_realtime_room), and says what is missing when
// the root itself has no room. cgroup v2 has no realtime budget: refused there (docker refuses
// too, podman drops it with a warning). The budget given is kept when the container ends, as
// docker's daemon keeps its parent's.
#pragma once

#include "runtime/cgroup_layout.hpp"

#include <cstdint>
#include <string>

namespace gantry::runtime {

// The mount point of the cgroup v1 hierarchy holding the cpu controller, where the realtime
// budget is (it has cpu.rt_runtime_us). Error(usage) naming FLAGS ("--cpu-rt-runtime") and the
// fix where there is none: a cgroup v2 host, no cpu hierarchy, or a kernel without realtime
// group scheduling.
std::string realtime_hierarchy(const std::string& flags,
                               const CgroupProbe& probe = CgroupProbe::system());

// The kernel's share of a CPU that RUNTIME of every PERIOD microseconds is (to_ratio: a fraction
// in units of 2^-20; RUNTIME -1, unlimited, is the largest).
std::uint64_t realtime_share(std::int64_t period, std::int64_t runtime);

// Room for a new cgroup NAME in PARENT (a directory of the hierarchy mounted at TOP) that is to
// get RUNTIME of every PERIOD microseconds (PERIOD 0: the new cgroup's default, TOP's): where the
// budget of PARENT, or of a cgroup between it and TOP, is less than its children need with the
// new one, that cgroup's cpu.rt_runtime_us is raised to what they need, from the top down. TOP's
// own budget is the host's (a sysctl) and never changed: where it has no room, Error(run_failed)
// naming FLAGS, TOP, its budget, what its cgroups hold and the fix; nothing is changed then.
void make_realtime_room(const std::string& top, const std::string& parent, const std::string& name,
                        std::int64_t period, std::int64_t runtime, const std::string& flags);

} // namespace gantry::runtime
