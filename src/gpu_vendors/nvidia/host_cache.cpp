#include "gpu_vendors/nvidia/host_cache.hpp"

#include "gpu_host/device_node_json.hpp"
#include "gpu_host/host_cache.hpp"
#include "gpu_vendors/nvidia/tegra.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include <algorithm>
#include <cstdlib>
#include <dirent.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

using nlohmann::json;

// An entry's JSON: each member under its own name (JSON objects' keys are sorted, so the text does
// not depend on the order here). A capability is its NVIDIA_DRIVER_CAPABILITIES name.
void to_json(json& j, Capability c) {
    j = to_string(c);
}
void from_json(const json& j, Capability& c) { // an IPC socket's: utility unless it says compute
    c = capability_from_string(j.get<std::string>()).value_or(Capability::utility);
}
void from_json(const json& j, Capabilities& caps) { // a name this gantry does not know: left out
    caps.clear();
    for (auto& x : j)
        if (auto v = capability_from_string(x.get<std::string>())) caps.insert(*v);
}
NLOHMANN_JSON_SERIALIZE_ENUM(Machine, {{Machine::x86_64, "x86_64"}, {Machine::aarch64, "aarch64"}})
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(MigDevice, gpu_index, gi, ci, uuid, profile, memory, gi_cap,
                                   ci_cap)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Device, index, minor, uuid, name, brand, pci_bus_id, cc_major,
                                   cc_minor, memory, mig_enabled, persistence, migs, node, proc_dir)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Library, host_path, name, soname, lib32, caps)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(HostFile, host_path, container_path, caps)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(IpcSocket, host_path, container_path, cap)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TegraLink, target, path)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TegraBoard, why, release, soc, model, csv_files, skipped, nodes,
                                   files, dirs, links, library_dirs)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Host, machine, driver_root, dev_root, driver_version,
                                   cuda_version, nvml_loaded, wsl, tegra, board, devices, libraries,
                                   binaries, firmware, configs, ipc, ctl, uvm, uvm_tools, modeset,
                                   dxg, mig_config_caps, proc_root, notes, ldcache_path, nvml_path,
                                   wsl_driver_store, wsl_shadowing)

namespace {

std::string cache_key(const DiscoverOptions& opt) {
    gpu_host::CacheKey k("gantry-host-cache-5");
    k.text(opt.driver_root + "\n" + opt.dev_root + "\n" + (opt.use_nvml ? "nvml" : "no-nvml") +
           "\n" + to_string(opt.machine) + "\n" + opt.sys_root);
    std::string root = opt.driver_root == "/" ? "" : opt.driver_root;
    for (auto p : {root + "/proc/driver/nvidia/version", std::string("/proc/driver/nvidia/version"),
                   root + "/proc/driver/nvidia-caps/mig-minors",
                   std::string("/proc/driver/nvidia-caps/mig-minors")})
        k.file(p, 1 << 20);
    for (auto p :
         {root + "/etc/ld.so.cache", root + "/usr/lib/wsl/lib", root + "/usr/lib/wsl/drivers"})
        k.stat(p);
    // A Jetson's board files and mount lists (each list's own stat: an edit keeps the dir's)
    k.stat(root + "/etc/nv_tegra_release");
    k.file((opt.sys_root == "/" ? "" : opt.sys_root) + "/sys/devices/soc0/family", 4096);
    k.dir(root + kTegraCsvDir, {""});
    std::string dev = (opt.dev_root == "/" ? "" : opt.dev_root) + "/dev";
    k.dir(dev, {"nvidia", "dxg", "nvhost", "nvmap"});
    k.dir(dev + "/nvidia-caps", {"nvidia-cap"});
    // The simulated host's fake NVML (tests/fixtures/gpuhost) also looks for nodes under
    // $FAKE_DEVICE_ROOT, so its answers depend on it; a real NVML ignores the variable and the
    // key merely gains a constant.
    if (const char* f = std::getenv("FAKE_DEVICE_ROOT")) k.text(std::string("fake:") + f);
    return k.hex();
}

} // namespace

std::string host_to_json(const Host& h) {
    return gpu_host::entry_text(h);
}

Host host_from_json(const std::string& text) {
    return gpu_host::entry_from_text<Host>(text, "GPU host cache entry");
}

Host discover_cached(const DiscoverOptions& opt, const std::string& cache_dir) {
    if (cache_dir.empty()) return discover(opt);
    return gpu_host::cached_host<Host>(
        cache_dir, cache_dir + "/host-" + cache_key(opt) + ".json", 16 << 20, host_from_json,
        host_to_json, [&] { return discover(opt); }, [](const Host& h) { return h.has_driver(); },
        0755);
}

} // namespace gantry::gpu_vendors::nvidia
