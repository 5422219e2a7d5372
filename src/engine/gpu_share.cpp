#include "engine/gpu_share.hpp"

#include "gpu_limits/dmem.hpp"
#include "gpu_limits/placement.hpp"
#include "gpu_limits/share.hpp"
#include "runtime/cgroup_layout.hpp"
#include "runtime/resources.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <unistd.h>

extern char** environ;

namespace gantry::engine {

namespace {

std::vector<std::string> flags_given(const RunRequest& r) {
    std::vector<std::string> out;
    if (!r.gpu_numa.empty() && r.gpu_numa != "off") out.emplace_back("--gpu-numa");
    if (!r.gpu_memory.empty()) out.emplace_back("--gpu-memory");
    if (!r.gpu_memory_reservation.empty()) out.emplace_back("--gpu-memory-reservation");
    if (!r.gpu_compute.empty()) out.emplace_back("--gpu-compute");
    if (!r.mps.empty()) out.emplace_back("--mps");
    return out;
}

std::vector<std::string> caller_env() {
    std::vector<std::string> out;
    for (char** e = environ; e && *e; ++e) out.emplace_back(*e);
    return out;
}

void set_env(std::vector<std::string>& env, const std::string& entry) {
    const std::string key = entry.substr(0, entry.find('=') + 1);
    std::erase_if(env, [&](const std::string& e) { return e.starts_with(key); });
    env.push_back(entry);
}

void bind(oci::RuntimeSpec& spec, const std::string& source, const std::string& destination,
          std::vector<std::string> options) {
    std::erase_if(spec.mounts, [&](const oci::Mount& m) { return m.destination == destination; });
    spec.mounts.push_back({destination, "bind", source, std::move(options), {}, {}});
}

void place_near_gpus(Prepared& p, const gpu_vendors::AddedGpus& added) {
    const auto& r = p.request;
    std::vector<gpu_limits::GpuLocality> gpus;
    for (const auto& f : added.pci_functions)
        gpus.push_back(gpu_limits::read_locality(r.gpu_roots.sys_root, f));
    auto placed =
        gpu_limits::place_near(gpus, runtime::available_cpus(), runtime::available_mems());
    for (const auto& w : placed.warnings) log::warn(w);
    p.resources.cpuset_cpus = placed.cpus;
    p.resources.cpuset_mems = placed.mems;
    log::debug("--gpu-numa auto: cpus " + placed.cpus + ", mems " +
               (placed.mems.empty() ? "(not pinned)" : placed.mems));
}

// What a memory flag could not be applied with, in words, for the refusal.
std::string dmem_missing(const std::string& top, const std::vector<gpu_limits::DmemRegion>& regions,
                         const std::vector<std::string>& without) {
    if (top.empty()) return "there is no cgroup v2 hierarchy here, so no dmem controller";
    if (regions.empty())
        return top + "/dmem.capacity lists no device memory region (the dmem controller needs "
                     "Linux 6.14 and a driver that registers its memory: xe, amdgpu, NVIDIA "
                     "r615+)";
    return top + "/dmem.capacity lists no region of GPU " + text::join_english(without);
}

// --cpuset-cpus given with GPUs: a warning when none of its CPUs is local to any of them (their
// local_cpulist), the placement --gpu-numa auto would fix. Silent where sysfs does not say.
void warn_when_far(const Prepared& p, const gpu_vendors::AddedGpus& added) {
    const auto& r = p.request;
    if (r.cpuset_cpus.empty() || added.pci_functions.empty()) return;
    std::vector<unsigned> local;
    try {
        for (const auto& f : added.pci_functions) {
            auto g = gpu_limits::read_locality(r.gpu_roots.sys_root, f);
            auto cpus = runtime::cpuset_numbers(g.local_cpus, f);
            local.insert(local.end(), cpus.begin(), cpus.end());
        }
    } catch (const Error& e) {
        log::debug("the GPUs' local CPUs are not known: " + e.message());
        return;
    }
    for (unsigned c : runtime::cpuset_numbers(r.cpuset_cpus, "--cpuset-cpus"))
        if (std::find(local.begin(), local.end(), c) != local.end()) return;
    std::ranges::sort(local);
    local.erase(std::unique(local.begin(), local.end()), local.end());
    log::warn("--cpuset-cpus " + r.cpuset_cpus + " holds none of the CPUs local to the GPUs (" +
              runtime::cpuset_list(local) +
              "): their memory copies cross NUMA nodes; --gpu-numa auto pins the container next "
              "to them");
}

} // namespace

void check_gpu_share_flags(const RunRequest& r) {
    if (!r.gpu_numa.empty() && r.gpu_numa != "auto" && r.gpu_numa != "off")
        throw Error(Errc::usage, "unknown --gpu-numa \"" + r.gpu_numa + "\"",
                    "use auto (the CPUs and memory of the GPUs' NUMA nodes) or off");
    if (r.gpu_numa == "auto" && (!r.cpuset_cpus.empty() || !r.cpuset_mems.empty()))
        throw Error(Errc::usage,
                    "--gpu-numa auto chooses the cpuset itself, and --cpuset-" +
                        std::string(r.cpuset_cpus.empty() ? "mems" : "cpus") + " is given",
                    "give one of them");
    if (!r.gpu_memory.empty()) gpu_limits::parse_memory_share(r.gpu_memory, "--gpu-memory");
    if (!r.gpu_memory_reservation.empty())
        gpu_limits::parse_memory_share(r.gpu_memory_reservation, "--gpu-memory-reservation");
    if (!r.gpu_compute.empty()) gpu_limits::parse_compute_percent(r.gpu_compute);
}

void apply_gpu_share(Prepared& p, const gpu_vendors::AddedGpus& added) {
    const auto& r = p.request;
    warn_when_far(p, added);
    const auto given = flags_given(r);
    if (given.empty()) return;
    check_gpu_share_flags(r);
    if (!added.backend)
        throw Error(Errc::usage,
                    text::join_english(given) + " apply to the container's GPUs, and it gets none",
                    "select GPUs with --gpus");
    if (added.pci_functions.empty())
        throw Error(Errc::run_failed,
                    text::join_english(given) + ": the container has no " +
                        std::string(added.backend->name()) +
                        " GPU whose PCI address gantry can read (none is selected, or they are "
                        "WSL2's)",
                    "select GPUs with --gpus (device=0 is GPU 0; a bare number is a count), or "
                    "drop " +
                        text::join_english(given));
    const std::size_t count = added.pci_functions.size();
    if (r.gpu_numa == "auto") place_near_gpus(p, added);

    std::vector<std::optional<std::uint64_t>> memory(count), reservation(count);
    if (!r.gpu_memory.empty())
        memory = gpu_limits::per_gpu(gpu_limits::parse_memory_share(r.gpu_memory, "--gpu-memory"),
                                     count, "--gpu-memory");
    if (!r.gpu_memory_reservation.empty())
        reservation = gpu_limits::per_gpu(
            gpu_limits::parse_memory_share(r.gpu_memory_reservation, "--gpu-memory-reservation"),
            count, "--gpu-memory-reservation");
    for (std::size_t i = 0; i < count; ++i)
        if (memory[i] && reservation[i] && *reservation[i] > *memory[i])
            throw Error(Errc::usage,
                        "--gpu-memory-reservation is above --gpu-memory for GPU " +
                            std::to_string(i),
                        "a reservation is protected memory below the limit: lower it");
    const unsigned compute =
        r.gpu_compute.empty() ? 0 : gpu_limits::parse_compute_percent(r.gpu_compute);
    const bool wants_memory = !r.gpu_memory.empty() || !r.gpu_memory_reservation.empty();

    // dmem where the kernel lists a region for every GPU given a limit
    const std::string top = runtime::cgroup2_top(runtime::CgroupProbe::system());
    const auto regions = gpu_limits::read_dmem_capacity(top);
    std::vector<std::pair<gpu_limits::DmemRegion, std::uint64_t>> max, min;
    std::vector<std::string> without;
    for (std::size_t i = 0; i < count && wants_memory; ++i) {
        if (!memory[i] && !reservation[i]) continue;
        auto region = gpu_limits::dmem_region_of(regions, added.pci_functions[i]);
        if (!region) {
            without.push_back(added.pci_functions[i]);
            continue;
        }
        if (memory[i]) max.emplace_back(*region, *memory[i]);
        if (reservation[i]) min.emplace_back(*region, *reservation[i]);
    }
    const bool by_dmem = wants_memory && without.empty();
    if (by_dmem) {
        p.resources.dmem_max = gpu_limits::dmem_limit_lines(max);
        p.resources.dmem_min = gpu_limits::dmem_limit_lines(min);
    }

    // the sharing daemon (NVIDIA's MPS): asked for (--mps), or the way left for --gpu-memory
    // and --gpu-compute
    const bool needs_daemon = !r.mps.empty() || compute != 0 || (wants_memory && !by_dmem);
    if (!needs_daemon) {
        p.spec.resources = runtime::to_linux_resources(p.resources);
        return;
    }
    std::vector<std::string> daemon_flags;
    if (!r.mps.empty()) daemon_flags.emplace_back("--mps");
    if (compute != 0) daemon_flags.emplace_back("--gpu-compute");
    if (wants_memory && !by_dmem) daemon_flags.emplace_back("--gpu-memory");
    const std::string what = text::join_english(daemon_flags);
    const std::string no_dmem = wants_memory && !by_dmem ? dmem_missing(top, regions, without) : "";
    if (!no_dmem.empty() && !r.gpu_memory_reservation.empty())
        throw Error(Errc::run_failed,
                    "--gpu-memory-reservation needs the cgroup dmem controller, and " + no_dmem,
                    "drop --gpu-memory-reservation (a sharing daemon's limit has no reservation)");
    const std::string vendor(added.backend->name());
    if (added.backend->sharing_daemon().empty())
        throw Error(Errc::run_failed,
                    what + ": " + (no_dmem.empty() ? "" : no_dmem + ", and ") + vendor +
                        "'s GPUs have no sharing daemon gantry can make the container a client of",
                    compute != 0 ? "drop --gpu-compute (docs/gpu-sharing.md: what each vendor has)"
                                 : "run on a kernel with dmem for these GPUs (Linux 6.14+), or "
                                   "drop the flag");
    gpu_vendors::SharingRequest ask{r.mps == "true" ? std::string() : r.mps,
                                    *p.options.environment,
                                    caller_env(),
                                    by_dmem ? std::vector<std::optional<std::uint64_t>>(count)
                                            : memory,
                                    compute,
                                    p.caller.real_root ? ::geteuid() : p.caller.uid};
    gpu_vendors::SharingClient client;
    try {
        client = added.backend->sharing_client(ask);
    } catch (const Error& e) {
        if (e.code() != Errc::run_failed) throw;
        throw Error(Errc::run_failed,
                    what + ": " + e.message() + (no_dmem.empty() ? "" : "; and " + no_dmem),
                    e.hint());
    }
    for (const auto& w : client.warnings) log::warn(w);
    for (const auto& dir : client.directories) bind(p.spec, dir, dir, {"rbind", "nosuid", "nodev"});
    if (client.shares_dev_shm) { // the host's (the dev root's) /dev/shm
        const std::string dev_root = r.gpu_roots.dev_root == "/" ? "" : r.gpu_roots.dev_root;
        bind(p.spec, dev_root + "/dev/shm", "/dev/shm", {"rbind", "nosuid", "nodev"});
    }
    for (const auto& e : client.env) set_env(p.spec.env, e);
    p.spec.resources = runtime::to_linux_resources(p.resources);
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
