#include "engine/gpu_share.hpp"

#include "gpu_limits/apply.hpp"
#include "gpu_limits/placement.hpp"
#include "runtime/resources.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <unistd.h>

extern char** environ;

namespace gantry::engine {

namespace {

std::vector<std::string> caller_env() {
    std::vector<std::string> out;
    for (char** e = environ; e && *e; ++e) out.emplace_back(*e);
    return out;
}

gpu_limits::ShareAsk ask_of(const RunRequest& r) {
    return {r.gpu_numa,    r.gpu_memory, r.gpu_memory_reservation, r.gpu_compute, r.mps,
            r.cpuset_cpus, r.cpuset_mems};
}

} // namespace

void check_gpu_share_flags(const RunRequest& r) {
    gpu_limits::check_ask(ask_of(r), gpu_limits::flag_names());
}

void apply_gpu_share(Prepared& p, const gpu_vendors::AddedGpus& added) {
    const auto& r = p.request;
    const gpu_limits::ShareHost host{r.gpu_roots, caller_env(),
                                     p.caller.real_root ? ::geteuid() : p.caller.uid};
    const auto limits =
        gpu_limits::apply_share(ask_of(r), gpu_limits::flag_names(), added, host, p.spec);
    if (!ask_of(r).any()) return;
    if (r.gpu_numa == "auto") {
        p.resources.cpuset_cpus = limits.cpuset_cpus;
        p.resources.cpuset_mems = limits.cpuset_mems;
    }
    p.resources.dmem_max = limits.dmem_max;
    p.resources.dmem_min = limits.dmem_min;
    p.spec.resources = runtime::to_linux_resources(p.resources);
}

std::vector<findings::Finding>
far_cpu_findings(const gpu_vendors::Backend& backend, const gpu_vendors::Roots& roots,
                 const std::optional<std::string>& gpus, const std::vector<std::string>& env,
                 const std::string& cpuset, const gpu_vendors::CallerIds& caller) {
    std::vector<gpu_limits::GpuLocality> places;
    try {
        // the plan's description needs gantry's path (its hooks); nothing of it is applied
        const gpu_vendors::GpuContext ctx{
            gpu_vendors::Door::run, env, gpus, roots, nullptr, caller, true, "", fs::self_exe()};
        for (const auto& f : backend.plan(ctx).pci_functions)
            places.push_back(gpu_limits::read_locality(roots.sys_root, f));
    } catch (const Error& e) {
        log::debug("the GPUs' NUMA nodes are not known: " + e.message());
        return {};
    }
    if (places.empty()) return {};
    if (!cpuset.empty()) return gpu_limits::far_cpu_findings(places, cpuset, "--cpuset-cpus");
    return gpu_limits::far_cpu_findings(places, runtime::available_cpus(),
                                        "the CPUs gantry may use (its affinity and cgroup)");
}

void restore_gpu_share(Prepared& p) {
    const auto& kept = p.spec.resources;
    if (p.request.gpu_numa == "auto") {
        p.resources.cpuset_cpus = kept.cpu.cpus;
        p.resources.cpuset_mems = kept.cpu.mems;
    }
    if (auto it = kept.unified.find("dmem.max"); it != kept.unified.end())
        p.resources.dmem_max = it->second;
    if (auto it = kept.unified.find("dmem.min"); it != kept.unified.end())
        p.resources.dmem_min = it->second;
}

} // namespace gantry::engine
