#include "gpu_vendors/nvidia/host_cache.hpp"

#include "gpu/device_node_json.hpp"
#include "gpu/host_cache.hpp"
#include "util/error.hpp"
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
// not depend on the order here).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(MigDevice, gpu_index, gi, ci, uuid, profile, memory, gi_cap,
                                   ci_cap)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Device, index, minor, uuid, name, brand, pci_bus_id, cc_major,
                                   cc_minor, memory, mig_enabled, persistence, migs, node, proc_dir)

namespace {

json caps_json(const Capabilities& c) {
    json a = json::array();
    for (auto x : c) a.push_back(to_string(x));
    return a;
}
Capabilities caps_from(const json& a) {
    Capabilities c;
    for (auto& x : a)
        if (auto v = capability_from_string(x.get<std::string>())) c.insert(*v);
    return c;
}
json files_json(const std::vector<HostFile>& v) {
    json a = json::array();
    for (auto& f : v)
        a.push_back({{"host_path", f.host_path},
                     {"container_path", f.container_path},
                     {"caps", caps_json(f.caps)}});
    return a;
}
std::vector<HostFile> files_from(const json& a) {
    std::vector<HostFile> v;
    for (auto& f : a)
        v.push_back({f.at("host_path"), f.at("container_path"), caps_from(f.at("caps"))});
    return v;
}

std::string cache_key(const DiscoverOptions& opt) {
    gpu::CacheKey k("gantry-host-cache-4");
    k.text(opt.driver_root + "\n" + opt.dev_root + "\n" + (opt.use_nvml ? "nvml" : "no-nvml"));
    std::string root = opt.driver_root == "/" ? "" : opt.driver_root;
    for (auto p : {root + "/proc/driver/nvidia/version", std::string("/proc/driver/nvidia/version"),
                   root + "/proc/driver/nvidia-caps/mig-minors",
                   std::string("/proc/driver/nvidia-caps/mig-minors")})
        k.file(p, 1 << 20);
    for (auto p :
         {root + "/etc/ld.so.cache", root + "/usr/lib/wsl/lib", root + "/usr/lib/wsl/drivers"})
        k.stat(p);
    std::string dev = (opt.dev_root == "/" ? "" : opt.dev_root) + "/dev";
    k.dir(dev, {"nvidia", "dxg"});
    k.dir(dev + "/nvidia-caps", {"nvidia-cap"});
    // The simulated host's fake NVML (tests/fixtures/gpuhost) also looks for nodes under
    // $FAKE_DEVICE_ROOT, so its answers depend on it; a real NVML ignores the variable and the
    // key merely gains a constant.
    if (const char* f = std::getenv("FAKE_DEVICE_ROOT")) k.text(std::string("fake:") + f);
    return k.hex();
}

} // namespace

std::string host_to_json(const Host& h) {
    json j;
    j["driver_root"] = h.driver_root;
    j["dev_root"] = h.dev_root;
    j["driver_version"] = h.driver_version;
    j["cuda_version"] = h.cuda_version;
    j["nvml_loaded"] = h.nvml_loaded;
    j["wsl"] = h.wsl;
    j["devices"] = h.devices;
    j["libraries"] = json::array();
    for (auto& l : h.libraries)
        j["libraries"].push_back({{"host_path", l.host_path},
                                  {"name", l.name},
                                  {"soname", l.soname},
                                  {"lib32", l.lib32},
                                  {"caps", caps_json(l.caps)}});
    j["binaries"] = files_json(h.binaries);
    j["firmware"] = files_json(h.firmware);
    j["configs"] = files_json(h.configs);
    j["ipc"] = json::array();
    for (auto& s : h.ipc)
        j["ipc"].push_back({{"host_path", s.host_path},
                            {"container_path", s.container_path},
                            {"cap", to_string(s.cap)}});
    j["ctl"] = h.ctl;
    j["uvm"] = h.uvm;
    j["uvm_tools"] = h.uvm_tools;
    j["modeset"] = h.modeset;
    j["dxg"] = h.dxg;
    j["mig_config_caps"] = h.mig_config_caps;
    j["proc_root"] = h.proc_root;
    j["notes"] = h.notes;
    j["ldcache_path"] = h.ldcache_path;
    j["nvml_path"] = h.nvml_path;
    j["wsl_driver_store"] = h.wsl_driver_store;
    j["wsl_shadowing"] = h.wsl_shadowing;
    return j.dump();
}

Host host_from_json(const std::string& text) {
    try {
        json j = json::parse(text);
        Host h;
        h.driver_root = j.at("driver_root");
        h.dev_root = j.at("dev_root");
        h.driver_version = j.at("driver_version");
        h.cuda_version = j.at("cuda_version");
        h.nvml_loaded = j.at("nvml_loaded");
        h.wsl = j.at("wsl");
        h.devices = j.at("devices").get<std::vector<Device>>();
        for (auto& l : j.at("libraries"))
            h.libraries.push_back({l.at("host_path"), l.at("name"), l.at("soname"), l.at("lib32"),
                                   caps_from(l.at("caps"))});
        h.binaries = files_from(j.at("binaries"));
        h.firmware = files_from(j.at("firmware"));
        h.configs = files_from(j.at("configs"));
        for (auto& s : j.at("ipc"))
            h.ipc.push_back({s.at("host_path"), s.at("container_path"),
                             capability_from_string(s.at("cap").get<std::string>())
                                 .value_or(Capability::utility)});
        h.ctl = j.at("ctl");
        h.uvm = j.at("uvm");
        h.uvm_tools = j.at("uvm_tools");
        h.modeset = j.at("modeset");
        h.dxg = j.at("dxg");
        h.mig_config_caps = j.at("mig_config_caps").get<std::vector<gpu::DeviceNode>>();
        h.proc_root = j.at("proc_root");
        h.notes = j.at("notes").get<std::vector<std::string>>();
        h.ldcache_path = j.at("ldcache_path");
        h.nvml_path = j.at("nvml_path");
        h.wsl_driver_store = j.at("wsl_driver_store").get<std::vector<std::string>>();
        h.wsl_shadowing = j.at("wsl_shadowing").get<std::vector<std::string>>();
        return h;
    } catch (const json::exception& e) {
        throw Error(Errc::invalid, std::string("damaged GPU host cache entry: ") + e.what());
    }
}

Host discover_cached(const DiscoverOptions& opt, const std::string& cache_dir) {
    if (cache_dir.empty()) return discover(opt);
    return gpu::cached_host<Host>(
        cache_dir, cache_dir + "/host-" + cache_key(opt) + ".json", 16 << 20, host_from_json,
        host_to_json, [&] { return discover(opt); }, [](const Host& h) { return h.has_driver(); },
        0755);
}

} // namespace gantry::gpu_vendors::nvidia
