#include "gpu_limits/apply.hpp"

#include "gpu_limits/dmem.hpp"
#include "gpu_limits/placement.hpp"
#include "gpu_limits/share.hpp"
#include "runtime/cgroup_layout.hpp"
#include "runtime/resources.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <algorithm>

namespace gantry::gpu_limits {

const AskNames& flag_names() {
    static const AskNames names{
        "--gpu-numa",    "--gpu-memory",  "--gpu-memory-reservation", "--gpu-compute", "--mps",
        "--cpuset-cpus", "--cpuset-mems", "select GPUs with --gpus"};
    return names;
}

const AskNames& annotation_names() {
    static const AskNames names{"io.gantry.gpu-numa",
                                "io.gantry.gpu-memory",
                                "io.gantry.gpu-memory-reservation",
                                "io.gantry.gpu-compute",
                                "io.gantry.mps",
                                "linux.resources.cpu.cpus",
                                "linux.resources.cpu.mems",
                                "ask for GPUs in the container's environment "
                                "(NVIDIA_VISIBLE_DEVICES, AMD_VISIBLE_DEVICES)"};
    return names;
}

namespace {

std::vector<std::string> asked(const ShareAsk& a, const AskNames& n) {
    std::vector<std::string> out;
    if (!a.numa.empty() && a.numa != "off") out.push_back(n.numa);
    if (!a.memory.empty()) out.push_back(n.memory);
    if (!a.memory_reservation.empty()) out.push_back(n.memory_reservation);
    if (!a.compute.empty()) out.push_back(n.compute);
    if (!a.mps.empty()) out.push_back(n.mps);
    return out;
}

void set_env(std::vector<std::string>& env, const std::string& entry) {
    const std::string key = entry.substr(0, entry.find('=') + 1);
    std::erase_if(env, [&](const std::string& e) { return e.starts_with(key); });
    env.push_back(entry);
}

void bind_at(oci::RuntimeSpec& spec, const std::string& source, const std::string& destination) {
    std::erase_if(spec.mounts, [&](const oci::Mount& m) { return m.destination == destination; });
    spec.mounts.push_back({destination, "bind", source, {"rbind", "nosuid", "nodev"}, {}, {}});
}

// What a memory ask could not be applied with, in words, for the refusal.
std::string dmem_missing(const std::string& top, const std::vector<DmemRegion>& regions,
                         const std::vector<std::string>& without) {
    if (top.empty()) return "there is no cgroup v2 hierarchy here, so no dmem controller";
    if (regions.empty())
        return top + "/dmem.capacity lists no device memory region (the dmem controller needs "
                     "Linux 6.14 and a driver that registers its memory: xe, amdgpu, NVIDIA "
                     "r615+)";
    return top + "/dmem.capacity lists no region of GPU " + text::join_english(without);
}

// A cpuset of the user's given with GPUs: a warning when none of its CPUs is local to any of
// them (their local_cpulist), the placement numa auto would fix. Silent where sysfs does not say.
void warn_when_far(const ShareAsk& a, const AskNames& n, const gpu_vendors::AddedGpus& added,
                   const ShareHost& host) {
    if (a.cpuset_cpus.empty() || added.pci_functions.empty()) return;
    std::vector<unsigned> local;
    try {
        for (const auto& f : added.pci_functions) {
            auto g = read_locality(host.roots.sys_root, f);
            auto cpus = runtime::cpuset_numbers(g.local_cpus, f);
            local.insert(local.end(), cpus.begin(), cpus.end());
        }
    } catch (const Error& e) {
        log::debug("the GPUs' local CPUs are not known: " + e.message());
        return;
    }
    for (unsigned c : runtime::cpuset_numbers(a.cpuset_cpus, n.cpuset_cpus))
        if (std::find(local.begin(), local.end(), c) != local.end()) return;
    std::ranges::sort(local);
    local.erase(std::unique(local.begin(), local.end()), local.end());
    log::warn(n.cpuset_cpus + " " + a.cpuset_cpus + " holds none of the CPUs local to the GPUs (" +
              runtime::cpuset_list(local) + "): their memory copies cross NUMA nodes; " + n.numa +
              " auto pins the container next to them");
}

} // namespace

bool is_share_annotation(const std::string& key) {
    const auto& n = annotation_names();
    return key == n.numa || key == n.memory || key == n.memory_reservation || key == n.compute ||
           key == n.mps;
}

ShareAsk ask_from_annotations(const std::map<std::string, std::string>& annotations) {
    ShareAsk a;
    auto value = [&](const std::string& key, std::string& out) {
        if (auto it = annotations.find(key); it != annotations.end()) out = it->second;
    };
    const auto& n = annotation_names();
    value(n.numa, a.numa);
    value(n.memory, a.memory);
    value(n.memory_reservation, a.memory_reservation);
    value(n.compute, a.compute);
    value(n.mps, a.mps);
    return a;
}

void check_ask(const ShareAsk& a, const AskNames& n) {
    if (!a.numa.empty() && a.numa != "auto" && a.numa != "off")
        throw Error(Errc::usage, "unknown " + n.numa + " \"" + a.numa + "\"",
                    "use auto (the CPUs and memory of the GPUs' NUMA nodes) or off");
    if (a.numa == "auto" && (!a.cpuset_cpus.empty() || !a.cpuset_mems.empty()))
        throw Error(Errc::usage,
                    n.numa + " auto chooses the cpuset itself, and " +
                        (a.cpuset_cpus.empty() ? n.cpuset_mems : n.cpuset_cpus) + " is given",
                    "give one of them");
    if (!a.memory.empty()) parse_memory_share(a.memory, n.memory);
    if (!a.memory_reservation.empty())
        parse_memory_share(a.memory_reservation, n.memory_reservation);
    if (!a.compute.empty()) parse_compute_percent(a.compute, n.compute);
    if (a.mps == "false" || (!a.mps.empty() && a.mps != "true" && a.mps.front() != '/'))
        throw Error(Errc::usage, n.mps + " \"" + a.mps + "\" is not true or a directory",
                    "give true (the daemon's usual pipe directory) or its absolute path");
}

ShareLimits apply_share(const ShareAsk& a, const AskNames& n, const gpu_vendors::AddedGpus& added,
                        const ShareHost& host, oci::RuntimeSpec& spec) {
    ShareLimits out;
    warn_when_far(a, n, added, host);
    const auto given = asked(a, n);
    if (given.empty()) return out;
    check_ask(a, n);
    if (!added.backend)
        throw Error(Errc::usage,
                    text::join_english(given) + " apply to the container's GPUs, and it gets none",
                    n.select_gpus);
    if (added.pci_functions.empty())
        throw Error(Errc::run_failed,
                    text::join_english(given) + ": the container has no " +
                        std::string(added.backend->name()) +
                        " GPU whose PCI address gantry can read (none is selected, or they are "
                        "WSL2's, or named by CDI only)",
                    n.select_gpus + ", or drop " + text::join_english(given));
    const std::size_t count = added.pci_functions.size();
    if (a.numa == "auto") {
        Placement placed;
        try {
            std::vector<GpuLocality> gpus;
            for (const auto& f : added.pci_functions)
                gpus.push_back(read_locality(host.roots.sys_root, f));
            placed = place_near(gpus, runtime::available_cpus(), runtime::available_mems());
        } catch (const Error& e) { // placement.hpp's words name the flag: the door's name
            std::string why = e.message();
            if (why.starts_with(flag_names().numa))
                why.replace(0, flag_names().numa.size(), n.numa);
            throw Error(e.code(), why, e.hint());
        }
        for (const auto& w : placed.warnings) log::warn(w);
        out.cpuset_cpus = placed.cpus;
        out.cpuset_mems = placed.mems;
        log::debug(n.numa + " auto: cpus " + placed.cpus + ", mems " +
                   (placed.mems.empty() ? "(not pinned)" : placed.mems));
    }

    std::vector<std::optional<std::uint64_t>> memory(count), reservation(count);
    if (!a.memory.empty())
        memory = per_gpu(parse_memory_share(a.memory, n.memory), count, n.memory);
    if (!a.memory_reservation.empty())
        reservation = per_gpu(parse_memory_share(a.memory_reservation, n.memory_reservation), count,
                              n.memory_reservation);
    for (std::size_t i = 0; i < count; ++i)
        if (memory[i] && reservation[i] && *reservation[i] > *memory[i])
            throw Error(Errc::usage,
                        n.memory_reservation + " is above " + n.memory + " for GPU " +
                            std::to_string(i),
                        "a reservation is protected memory below the limit: lower it");
    const unsigned compute = a.compute.empty() ? 0 : parse_compute_percent(a.compute, n.compute);
    const bool wants_memory = !a.memory.empty() || !a.memory_reservation.empty();

    // dmem where the kernel lists a region for every GPU given a limit
    const std::string top = runtime::cgroup2_top(runtime::CgroupProbe::system());
    const auto regions = read_dmem_capacity(top);
    std::vector<std::pair<DmemRegion, std::uint64_t>> max, min;
    std::vector<std::string> without;
    for (std::size_t i = 0; i < count && wants_memory; ++i) {
        if (!memory[i] && !reservation[i]) continue;
        auto region = dmem_region_of(regions, added.pci_functions[i], n.memory);
        if (!region) {
            without.push_back(added.pci_functions[i]);
            continue;
        }
        if (memory[i]) max.emplace_back(*region, *memory[i]);
        if (reservation[i]) min.emplace_back(*region, *reservation[i]);
    }
    const bool by_dmem = wants_memory && without.empty();
    if (by_dmem) {
        out.dmem_max = dmem_limit_lines(max);
        out.dmem_min = dmem_limit_lines(min);
    }

    // a vendor without a sharing daemon may have an advisory compute share (AMD's CU masks)
    const bool daemon = !added.backend->sharing_daemon().empty();
    bool advised = false;
    if (compute != 0 && !daemon) {
        auto share =
            added.backend->advisory_compute_share(host.roots, added.pci_functions, compute);
        if (!share.env.empty()) {
            for (const auto& e : share.env)
                if (std::ranges::any_of(spec.env, [&](const std::string& have) {
                        return have.starts_with(e.substr(0, e.find('=') + 1));
                    }))
                    throw Error(Errc::usage,
                                n.compute + " sets " + e.substr(0, e.find('=')) +
                                    ", and the container's environment has it already",
                                "drop one of them");
            for (const auto& e : share.env) set_env(spec.env, e);
            log::warn(share.note);
            advised = true;
        }
    }
    // the sharing daemon (NVIDIA's MPS): asked for, or the way left for memory and compute
    const bool needs_daemon =
        !a.mps.empty() || (compute != 0 && !advised) || (wants_memory && !by_dmem);
    if (!needs_daemon) return out;
    std::vector<std::string> daemon_asks;
    if (!a.mps.empty()) daemon_asks.push_back(n.mps);
    if (compute != 0 && !advised) daemon_asks.push_back(n.compute);
    if (wants_memory && !by_dmem) daemon_asks.push_back(n.memory);
    const std::string what = text::join_english(daemon_asks);
    const std::string no_dmem = wants_memory && !by_dmem ? dmem_missing(top, regions, without) : "";
    if (!no_dmem.empty() && !a.memory_reservation.empty())
        throw Error(Errc::run_failed,
                    n.memory_reservation + " needs the cgroup dmem controller, and " + no_dmem,
                    "drop " + n.memory_reservation +
                        " (a sharing daemon's limit has no reservation)");
    const std::string vendor(added.backend->name());
    if (!daemon)
        throw Error(Errc::run_failed,
                    what + ": " + (no_dmem.empty() ? "" : no_dmem + ", and ") + vendor +
                        "'s GPUs have no sharing daemon gantry can make the container a client of",
                    compute != 0
                        ? "drop " + n.compute + " (docs/gpu-sharing.md: what each vendor has)"
                        : "run on a kernel with dmem for these GPUs (Linux 6.14+), or "
                          "drop " +
                              what);
    const std::vector<std::string> container_env = spec.env;
    gpu_vendors::SharingRequest request{a.mps == "true" ? std::string() : a.mps,
                                        container_env,
                                        host.caller_env,
                                        by_dmem ? std::vector<std::optional<std::uint64_t>>(count)
                                                : memory,
                                        advised ? 0u : compute,
                                        host.client_uid};
    gpu_vendors::SharingClient client;
    try {
        client = added.backend->sharing_client(request);
    } catch (const Error& e) {
        if (e.code() != Errc::run_failed) throw;
        throw Error(Errc::run_failed,
                    what + ": " + e.message() + (no_dmem.empty() ? "" : "; and " + no_dmem),
                    e.hint());
    }
    for (const auto& w : client.warnings) log::warn(w);
    for (const auto& dir : client.directories) bind_at(spec, dir, dir);
    if (client.shares_dev_shm) // the host's (the dev root's) /dev/shm
        bind_at(spec, (host.roots.dev_root == "/" ? "" : host.roots.dev_root) + "/dev/shm",
                "/dev/shm");
    for (const auto& e : client.env) set_env(spec.env, e);
    return out;
}

} // namespace gantry::gpu_limits
