#include "gpu_vendors/amd/cache.hpp"

#include "gpu_host/device_node_json.hpp"
#include "gpu_host/host_cache.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/json_optional.hpp"

#include <algorithm>
#include <dirent.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <vector>

namespace gantry::gpu_vendors::amd {

using nlohmann::json;

// An entry's JSON: each member under its own name (JSON objects' keys are sorted, so the text does
// not depend on the order here).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Partition, index, count, platform_device, compute_mode,
                                   memory_mode, parent_card)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Gpu, index, node, gpu_id, kfd_name, unique_id, uuid,
                                   gfx_target_version, gfx_target, xnack, sramecc, capability,
                                   vendor_id, device_id, domain, location_id, pci_bus_id,
                                   simd_count, num_xcc, drm_render_minor, marketing_name, render,
                                   card, card_matched, partition)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Host, sys_root, dev_root, usable, unusable_reason, generation_id,
                                   driver_version, kfd, gpus, cpu_nodes, notes)

namespace {

constexpr std::uint64_t kMaxEntry = 4u << 20;

std::string cache_key(const DiscoverOptions& opt) {
    gpu_host::CacheKey k("gantry-amd-host-cache-3");
    k.text(opt.sys_root + "\n" + opt.dev_root);
    k.file(gpu_host::join_root(opt.sys_root, "/sys/class/kfd/kfd/topology/generation_id"),
           64 << 10);
    k.file(gpu_host::join_root(opt.sys_root, "/sys/module/amdgpu/version"), 64 << 10);
    k.stat(gpu_host::join_root(opt.dev_root, "/dev/kfd"));
    k.dir(gpu_host::join_root(opt.dev_root, "/dev/dri"), {"card", "renderD"});
    return k.hex();
}

} // namespace

std::string cache_entry_name(const DiscoverOptions& opt) {
    return "amd-host-" + cache_key(opt) + ".json";
}

std::string host_to_json(const Host& h) {
    return gpu_host::entry_text(h);
}

Host host_from_json(const std::string& text) {
    return gpu_host::entry_from_text<Host>(text, "AMD GPU host cache entry");
}

Host discover_cached(const DiscoverOptions& opt, const std::string& cache_dir) {
    if (cache_dir.empty()) return discover(opt);
    return gpu_host::cached_host<Host>(
        cache_dir, cache_dir + "/" + cache_entry_name(opt), kMaxEntry, host_from_json, host_to_json,
        [&] { return discover(opt); }, [](const Host& h) { return h.usable; }, 0700);
}

} // namespace gantry::gpu_vendors::amd
