#include "runtime/caller_cpuset.hpp"

#include "runtime/container_cgroup.hpp"
#include "runtime/resources.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>

namespace gantry::runtime {

namespace {

std::string read_list(const std::string& file) {
    try {
        return std::string(text::trim(fs::read_file(file)));
    } catch (const Error&) {
        return {};
    }
}

} // namespace

CallerCpuset caller_cpuset(const CgroupProbe& probe) {
    std::string dir = probe.root;
    bool v2 = true;
    if (dir.empty()) {
        try {
            auto own = ContainerCgroup::of_process(0, probe);
            dir = own.dir("cpuset");
            v2 = own.version() == CgroupVersion::v2;
        } catch (const Error&) {
        }
    }
    CallerCpuset c;
    if (dir.empty()) return c;
    c.cpus_file = dir + (v2 ? "/cpuset.cpus.effective" : "/cpuset.effective_cpus");
    c.mems_file = dir + (v2 ? "/cpuset.mems.effective" : "/cpuset.effective_mems");
    c.cpus = read_list(c.cpus_file);
    c.mems = read_list(c.mems_file);
    return c;
}

void check_caller_cpuset(const std::string& value, const std::string& flag, bool cpus,
                         const CallerCpuset& caller) {
    const std::string& allowed = cpus ? caller.cpus : caller.mems;
    if (allowed.empty()) return;
    const auto have = cpuset_numbers(allowed, cpus ? caller.cpus_file : caller.mems_file);
    std::vector<unsigned> missing;
    for (unsigned n : cpuset_numbers(value, flag))
        if (!std::ranges::binary_search(have, n)) missing.push_back(n);
    if (missing.empty()) return;
    const bool one = missing.size() == 1;
    throw Error(Errc::usage,
                flag + ": " + (cpus ? "CPU" : "memory node") + (one ? " " : "s ") +
                    cpuset_list(missing) + (one ? " is" : " are") +
                    " not allowed to this process's cgroup (" +
                    (cpus ? caller.cpus_file : caller.mems_file) + ": " + allowed + ")",
                "choose among " + allowed + ", or run gantry in a cgroup whose cpuset allows them");
}

std::string cpuset_within(const std::string& list, const std::string& allowed) {
    if (allowed.empty()) return list;
    const auto have = cpuset_numbers(allowed, "the cgroup's cpuset");
    std::vector<unsigned> out;
    for (unsigned n : cpuset_numbers(list, "the available list"))
        if (std::ranges::binary_search(have, n)) out.push_back(n);
    return cpuset_list(out);
}

} // namespace gantry::runtime
