// The CPUs and memory nodes the cgroup this process is in allows: its cpuset.cpus.effective and
// cpuset.mems.effective (cgroup v2), cpuset.effective_cpus and cpuset.effective_mems (v1's cpuset
// hierarchy), or those of $GANTRY_CGROUP_ROOT's directory (a fake tree's, in tests). A container's
// cgroup made below can have no other CPUs (Documentation/admin-guide/cgroup-v2.rst, "Cpuset"),
// so --cpuset-cpus, --cpuset-mems and --gpu-numa auto are checked against them.
#pragma once

#include "runtime/cgroup_layout.hpp"

#include <string>

namespace gantry::runtime {

struct CallerCpuset {
    std::string cpus, mems;           // lists ("0-3,8"); "" when the file cannot be read
    std::string cpus_file, mems_file; // where they were read
};
CallerCpuset caller_cpuset(const CgroupProbe& probe = CgroupProbe::system());

// VALUE of FLAG (--cpuset-cpus, --cpuset-mems: CPUS says which) against CALLER's list:
// Error(usage) naming the CPUs or nodes it does not allow and the file. Nothing checked when the
// list is not known.
void check_caller_cpuset(const std::string& value, const std::string& flag, bool cpus,
                         const CallerCpuset& caller);

// LIST ("0-7") without what ALLOWED ("2-3") lacks; LIST as it is when ALLOWED is "".
std::string cpuset_within(const std::string& list, const std::string& allowed);

} // namespace gantry::runtime
