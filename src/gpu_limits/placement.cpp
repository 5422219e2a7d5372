#include "gpu_limits/placement.hpp"

#include "runtime/resources.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <charconv>

namespace gantry::gpu_limits {

namespace {

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::vector<unsigned> both(const std::vector<unsigned>& a, const std::vector<unsigned>& b) {
    std::vector<unsigned> out;
    std::ranges::set_intersection(a, b, std::back_inserter(out));
    return out;
}

std::string gpus_named(const std::vector<GpuLocality>& gpus) {
    std::vector<std::string> names;
    for (const auto& g : gpus) names.push_back(g.pci_function);
    return (gpus.size() == 1 ? "GPU " : "GPUs ") + text::join_english(names);
}

} // namespace

GpuLocality read_locality(const std::string& sys_root, const std::string& pci_function) {
    const std::string root = sys_root.empty() || sys_root == "/" ? "" : sys_root;
    const std::string dir = root + "/sys/bus/pci/devices/" + pci_function;
    GpuLocality g;
    g.pci_function = pci_function;
    auto read = [&](const char* name) {
        try {
            return trimmed(fs::read_file(dir + "/" + name));
        } catch (const Error& e) {
            throw Error(Errc::run_failed,
                        "--gpu-numa auto: cannot read GPU " + pci_function + "'s " + name + " (" +
                            e.message() + ")",
                        "check --sys-root, or drop --gpu-numa and give --cpuset-cpus");
        }
    };
    const std::string node = read("numa_node");
    int n = -1;
    auto [end, ec] = std::from_chars(node.data(), node.data() + node.size(), n);
    if (node.empty() || ec != std::errc{} || end != node.data() + node.size() || n < -1)
        throw Error(Errc::run_failed,
                    "--gpu-numa auto: " + dir + "/numa_node holds \"" + node +
                        "\", not a node number",
                    "check --sys-root");
    g.node = n;
    g.local_cpus = read("local_cpulist");
    runtime::cpuset_numbers(g.local_cpus, dir + "/local_cpulist"); // well-formed
    return g;
}

Placement place_near(const std::vector<GpuLocality>& gpus, const std::string& allowed_cpus,
                     const std::string& allowed_mems) {
    Placement p;
    std::vector<unsigned> cpus, nodes;
    std::vector<std::string> unknown;
    for (const auto& g : gpus) {
        auto local = runtime::cpuset_numbers(g.local_cpus, "GPU " + g.pci_function + "'s CPUs");
        cpus.insert(cpus.end(), local.begin(), local.end());
        if (g.node >= 0)
            nodes.push_back(static_cast<unsigned>(g.node));
        else
            unknown.push_back(g.pci_function);
    }
    std::ranges::sort(cpus);
    cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
    std::ranges::sort(nodes);
    nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());

    const auto may_cpus = runtime::cpuset_numbers(allowed_cpus, "the CPUs this process may use");
    auto near = both(cpus, may_cpus);
    if (near.empty())
        throw Error(Errc::run_failed,
                    "--gpu-numa auto: the CPUs local to " + gpus_named(gpus) + " (" +
                        runtime::cpuset_list(cpus) + ") are none of those this process may use (" +
                        allowed_cpus + ")",
                    "run where those CPUs are allowed (taskset, the cgroup's cpuset), or drop "
                    "--gpu-numa and give --cpuset-cpus");
    p.cpus = runtime::cpuset_list(near);
    if (!nodes.empty()) {
        const auto may_mems = runtime::cpuset_numbers(allowed_mems, "the online memory nodes");
        auto mems = both(nodes, may_mems);
        if (mems.empty())
            throw Error(Errc::run_failed,
                        "--gpu-numa auto: the NUMA nodes of " + gpus_named(gpus) + " (" +
                            runtime::cpuset_list(nodes) + ") are none of the online ones (" +
                            allowed_mems + ")",
                        "check --sys-root, or drop --gpu-numa and give --cpuset-mems");
        p.mems = runtime::cpuset_list(mems);
    }
    if (nodes.size() > 1)
        p.warnings.push_back("--gpu-numa auto: the GPUs span NUMA nodes " +
                             runtime::cpuset_list(nodes) +
                             ": the container gets the CPUs and memory of each (select GPUs of "
                             "one node for local memory alone)");
    if (!unknown.empty())
        p.warnings.push_back("--gpu-numa auto: the platform reports no NUMA node for " +
                             text::join_english(unknown) + " (numa_node -1): " +
                             (nodes.empty() ? "CPUs pinned to their local CPUs, memory not pinned"
                                            : "memory pinned to the other GPUs' nodes only"));
    return p;
}

std::vector<findings::Finding> far_cpu_findings(const std::vector<GpuLocality>& gpus,
                                                const std::string& cpus,
                                                const std::string& cpus_are) {
    std::vector<findings::Finding> out;
    const auto mine = runtime::cpuset_numbers(cpus, cpus_are);
    for (const auto& g : gpus) {
        if (g.local_cpus.empty()) continue;
        const auto local =
            runtime::cpuset_numbers(g.local_cpus, "GPU " + g.pci_function + "'s CPUs");
        if (!both(local, mine).empty()) continue;
        const std::string node =
            g.node >= 0 ? "NUMA node " + std::to_string(g.node) : "no NUMA node the platform names";
        out.push_back(
            {"GPU-NUMA-FAR", findings::Severity::warn,
             "GPU " + g.pci_function + " is on " + node + " (its CPUs " + g.local_cpus +
                 "), and none of " + cpus_are + " (" + cpus +
                 ") is: its memory copies cross NUMA nodes",
             "--gpu-numa auto (the GPUs' CPUs and memory), or --cpuset-cpus " + g.local_cpus});
    }
    return out;
}

} // namespace gantry::gpu_limits
