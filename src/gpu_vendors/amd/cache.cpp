#include "gpu_vendors/amd/cache.hpp"

#include "gpu/device_node_json.hpp"
#include "gpu/host_cache.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include <algorithm>
#include <dirent.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <vector>

namespace gantry::gpu_vendors::amd {

using nlohmann::json;

namespace {

constexpr std::uint64_t kMaxEntry = 4u << 20;

template <class T>
json opt_json(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}
template <class T>
std::optional<T> opt_from(const json& j) {
    if (j.is_null()) return std::nullopt;
    return j.get<T>();
}

json partition_json(const Partition& p) {
    return {{"index", p.index},
            {"count", p.count},
            {"platform_device", p.platform_device},
            {"compute_mode", p.compute_mode},
            {"memory_mode", p.memory_mode},
            {"parent_card", gpu::device_node_to_json(p.parent_card)}};
}

Partition partition_from(const json& j) {
    Partition p;
    p.index = j.at("index");
    p.count = j.at("count");
    p.platform_device = j.at("platform_device");
    p.compute_mode = j.at("compute_mode");
    p.memory_mode = j.at("memory_mode");
    p.parent_card = gpu::device_node_from_json(j.at("parent_card"));
    return p;
}

json gpu_json(const Gpu& g) {
    return {{"index", g.index},
            {"node", g.node},
            {"gpu_id", g.gpu_id},
            {"kfd_name", g.kfd_name},
            {"unique_id", opt_json(g.unique_id)},
            {"uuid", g.uuid},
            {"gfx_target_version", g.gfx_target_version},
            {"gfx_target", g.gfx_target},
            {"xnack", opt_json(g.xnack)},
            {"sramecc", opt_json(g.sramecc)},
            {"capability", g.capability},
            {"vendor_id", g.vendor_id},
            {"device_id", g.device_id},
            {"domain", g.domain},
            {"location_id", g.location_id},
            {"pci_bus_id", g.pci_bus_id},
            {"simd_count", g.simd_count},
            {"num_xcc", g.num_xcc},
            {"drm_render_minor", g.drm_render_minor},
            {"marketing_name", g.marketing_name},
            {"render", gpu::device_node_to_json(g.render)},
            {"card", gpu::device_node_to_json(g.card)},
            {"card_matched", g.card_matched},
            {"partition", g.partition ? partition_json(*g.partition) : json(nullptr)}};
}

Gpu gpu_from(const json& j) {
    Gpu g;
    g.index = j.at("index");
    g.node = j.at("node");
    g.gpu_id = j.at("gpu_id");
    g.kfd_name = j.at("kfd_name");
    g.unique_id = opt_from<std::uint64_t>(j.at("unique_id"));
    g.uuid = j.at("uuid");
    g.gfx_target_version = j.at("gfx_target_version");
    g.gfx_target = j.at("gfx_target");
    g.xnack = opt_from<bool>(j.at("xnack"));
    g.sramecc = opt_from<bool>(j.at("sramecc"));
    g.capability = j.at("capability");
    g.vendor_id = j.at("vendor_id");
    g.device_id = j.at("device_id");
    g.domain = j.at("domain");
    g.location_id = j.at("location_id");
    g.pci_bus_id = j.at("pci_bus_id");
    g.simd_count = j.at("simd_count");
    g.num_xcc = j.at("num_xcc");
    g.drm_render_minor = j.at("drm_render_minor");
    g.marketing_name = j.at("marketing_name");
    g.render = gpu::device_node_from_json(j.at("render"));
    g.card = gpu::device_node_from_json(j.at("card"));
    g.card_matched = j.at("card_matched");
    if (const auto& p = j.at("partition"); !p.is_null()) g.partition = partition_from(p);
    return g;
}

std::string cache_key(const DiscoverOptions& opt) {
    gpu::CacheKey k("gantry-amd-host-cache-3");
    k.text(opt.sys_root + "\n" + opt.dev_root);
    k.file(gpu::join_root(opt.sys_root, "/sys/class/kfd/kfd/topology/generation_id"), 64 << 10);
    k.file(gpu::join_root(opt.sys_root, "/sys/module/amdgpu/version"), 64 << 10);
    k.stat(gpu::join_root(opt.dev_root, "/dev/kfd"));
    k.dir(gpu::join_root(opt.dev_root, "/dev/dri"), {"card", "renderD"});
    return k.hex();
}

} // namespace

std::string cache_entry_name(const DiscoverOptions& opt) {
    return "amd-host-" + cache_key(opt) + ".json";
}

std::string host_to_json(const Host& h) {
    json j;
    j["sys_root"] = h.sys_root;
    j["dev_root"] = h.dev_root;
    j["usable"] = h.usable;
    j["unusable_reason"] = h.unusable_reason;
    j["generation_id"] = opt_json(h.generation_id);
    j["driver_version"] = h.driver_version;
    j["kfd"] = gpu::device_node_to_json(h.kfd);
    j["gpus"] = json::array();
    for (auto& g : h.gpus) j["gpus"].push_back(gpu_json(g));
    j["cpu_nodes"] = h.cpu_nodes;
    j["notes"] = h.notes;
    return j.dump();
}

Host host_from_json(const std::string& text) {
    try {
        json j = json::parse(text);
        Host h;
        h.sys_root = j.at("sys_root");
        h.dev_root = j.at("dev_root");
        h.usable = j.at("usable");
        h.unusable_reason = j.at("unusable_reason");
        h.generation_id = opt_from<std::uint64_t>(j.at("generation_id"));
        h.driver_version = j.at("driver_version");
        h.kfd = gpu::device_node_from_json(j.at("kfd"));
        for (auto& g : j.at("gpus")) h.gpus.push_back(gpu_from(g));
        h.cpu_nodes = j.at("cpu_nodes");
        h.notes = j.at("notes").get<std::vector<std::string>>();
        return h;
    } catch (const json::exception& e) {
        throw Error(Errc::invalid, std::string("damaged AMD GPU host cache entry: ") + e.what());
    }
}

Host discover_cached(const DiscoverOptions& opt, const std::string& cache_dir) {
    if (cache_dir.empty()) return discover(opt);
    return gpu::cached_host<Host>(
        cache_dir, cache_dir + "/" + cache_entry_name(opt), kMaxEntry, host_from_json, host_to_json,
        [&] { return discover(opt); }, [](const Host& h) { return h.usable; }, 0700);
}

} // namespace gantry::gpu_vendors::amd
