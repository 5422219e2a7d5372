// gpu_vendors::nvidia::discover: the recipe. Each step fills its part of the Host; a step that
// fails leaves a note and the next one runs, so a missing or partial driver still yields a Host
// that says what is there.
#include "gpu_vendors/nvidia/discover_detail.hpp"
#include "gpu_vendors/nvidia/tegra.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <filesystem>
#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace gantry::gpu_vendors::nvidia {

namespace {

using detail::Resolver;

std::string normalize_root(const std::string& root) {
    if (root.empty()) return "/";
    std::string r = std::filesystem::path(root).lexically_normal().string();
    if (!r.empty() && r[0] != '/') {
        std::error_code ec;
        auto abs = std::filesystem::absolute(r, ec);
        if (!ec) r = abs.lexically_normal().string();
    }
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    return r.empty() ? "/" : r;
}

std::optional<std::string> read_text(const std::string& path) {
    try {
        return fs::read_file(path, 1u << 20);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

class Discovery {
  public:
    Discovery(const DiscoverOptions& opt, Host& h) : opt_(opt), h_(h), res_(h.driver_root) {}

    void run() {
        // WSL2: the driver is Windows' (no kernel module, no /proc/driver/nvidia), reached
        // through /dev/dxg and the two shares; its libraries come from the driver store.
        h_.wsl = detail::is_dir(res_.host("/usr/lib/wsl/lib"));
        // A Jetson (tegra.hpp): the board's files, then NVML's word, decide (nvidia-ctk's rule)
        std::string tegra_files;
        if (!h_.wsl) tegra_files = tegra_files_reason(h_.driver_root, opt_.sys_root);
        step("proc", [&] { read_proc(); });
        if (h_.wsl) step("WSL driver store", [&] { detail::find_wsl_files(h_, res_); });
        step("ld.so.cache", [&] { load_cache(); });
        if (h_.driver_version.empty() && !h_.wsl) step("version", [&] { version_from_libs(); });
        step("NVML", [&] { nvml(); });
        if (!tegra_files.empty() && h_.nvml_path.empty()) {
            h_.tegra = true;
            h_.board.why = tegra_files + ", no NVML";
        }
        for (const Device& d : h_.devices)
            if (!h_.wsl && !h_.tegra && is_integrated_gpu_name(d.name)) {
                h_.tegra = true;
                h_.board.why = "NVML names an integrated GPU, " + d.name;
            }
        if (h_.tegra) {
            step("Tegra", [&] { discover_tegra(h_, opt_.sys_root); });
            if (h_.cuda_version == 0 && !h_.driver_version.empty())
                h_.cuda_version = cuda_version_for_driver(h_.driver_version);
            return; // nothing of a dGPU driver's layout: the mount lists say it all
        }
        if (h_.cuda_version == 0) h_.cuda_version = cuda_version_for_driver(h_.driver_version);
        if (!h_.wsl) {
            step("libraries", [&] {
                if (!h_.driver_version.empty())
                    detail::find_libraries(h_, res_, cache());
                else
                    h_.notes.push_back("no NVIDIA driver version found: no libraries selected");
            });
            step("binaries", [&] { detail::find_binaries(h_, res_); });
            step("firmware", [&] { detail::find_firmware(h_, res_); });
            step("IPC", [&] { detail::find_ipc(h_, res_); });
            step("configs", [&] { detail::find_configs(h_, res_); });
        }
        if (!h_.nvml_loaded) step("GPUs", [&] { gpus_from_proc(); });
        step("proc dirs", [&] { match_proc_dirs(); });
        step("device nodes", [&] { device_nodes(); });
        step("MIG", [&] { mig_caps(); });
    }

  private:
    template <typename F>
    void step(const char* what, F f) {
        try {
            f();
        } catch (const std::exception& e) {
            h_.notes.push_back(std::string(what) + ": " + e.what());
        }
    }

    const gpu_host::ldcache::Cache* cache() const { return cache_ ? &*cache_ : nullptr; }
    std::string proc(const std::string& rel) const { return h_.proc_root + rel; }

    void read_proc() {
        std::string sim = res_.host("/proc");
        h_.proc_root =
            h_.driver_root != "/" && detail::is_dir(sim + "/driver/nvidia") ? sim : "/proc";
        auto text = read_text(proc("/driver/nvidia/version"));
        if (!text) {
            if (!h_.wsl) // WSL2 has none: the driver is the Windows host's
                h_.notes.push_back("no NVIDIA kernel module: " + proc("/driver/nvidia/version") +
                                   " is missing");
            return;
        }
        h_.driver_version = parse_proc_version(*text);
        if (h_.driver_version.empty())
            h_.notes.push_back("no driver version in " + proc("/driver/nvidia/version"));
    }

    void load_cache() {
        std::string path = res_.host("/etc/ld.so.cache");
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
            h_.notes.push_back("no ld.so.cache at " + path + ": standard directories scanned");
            return;
        }
        h_.ldcache_path = path;
        try {
            cache_ = gpu_host::ldcache::load(path);
        } catch (const std::exception& e) {
            h_.notes.push_back(std::string(e.what()) + ": standard directories scanned");
        }
    }

    void version_from_libs() {
        std::string from;
        h_.driver_version = detail::version_from_libraries(h_, res_, cache(), &from);
        if (!h_.driver_version.empty())
            h_.notes.push_back("driver version " + h_.driver_version + " taken from " + from);
    }

    void nvml() {
        std::string lib = detail::find_nvml(h_, res_, cache());
        if (lib.empty()) {
            h_.notes.push_back("libnvidia-ml.so.1 not found under " + h_.driver_root);
            return;
        }
        h_.nvml_path = res_.host(lib);
        if (!opt_.use_nvml) return;
        detail::NvmlReport r;
        if (!detail::query_nvml(h_.nvml_path, r)) {
            h_.notes.push_back("NVML unavailable: " + r.error);
            return;
        }
        h_.nvml_loaded = true;
        h_.devices = std::move(r.devices);
        if (!r.driver_version.empty() && !is_driver_version(r.driver_version)) {
            h_.notes.push_back("NVML reports an unusable driver version '" + r.driver_version +
                               "'");
            r.driver_version.clear();
        }
        for (auto& n : r.notes) h_.notes.push_back(std::move(n));
        if (r.cuda_version > 0) h_.cuda_version = r.cuda_version;
        if (h_.driver_version.empty()) {
            h_.driver_version = r.driver_version;
        } else if (!r.driver_version.empty() && r.driver_version != h_.driver_version) {
            h_.notes.push_back("NVML reports driver " + r.driver_version +
                               " but the kernel module is " + h_.driver_version +
                               " (driver upgraded without a reboot?)");
        }
    }

    void gpus_from_proc() {
        std::string dir = proc("/driver/nvidia/gpus");
        std::vector<Device> found;
        for (const std::string& bus : detail::list_dir(dir)) {
            auto text = read_text(dir + "/" + bus + "/information");
            if (!text) continue;
            auto info = parse_information(*text);
            if (info["GPU Excluded"] == "Yes") {
                h_.notes.push_back("GPU " + bus + " is excluded by the driver: skipped");
                continue;
            }
            Device d;
            d.name = info["Model"];
            d.uuid = info["GPU UUID"];
            d.pci_bus_id = normalize_pci_bus_id(info["Bus Location"]);
            if (d.pci_bus_id.empty()) d.pci_bus_id = normalize_pci_bus_id(bus);
            const std::string& minor = info["Device Minor"];
            if (minor.size() > 6 || !text::all_digits(minor)) {
                h_.notes.push_back(dir + "/" + bus + "/information has no Device Minor: skipped");
                continue;
            }
            d.minor = std::stoi(minor);
            d.proc_dir = dir + "/" + bus;
            found.push_back(std::move(d));
        }
        std::sort(found.begin(), found.end(),
                  [](const Device& a, const Device& b) { return a.pci_bus_id < b.pci_bus_id; });
        for (std::size_t i = 0; i < found.size(); ++i) found[i].index = static_cast<int>(i);
        h_.devices = std::move(found);
        if (!h_.devices.empty())
            h_.notes.push_back("GPUs read from " + dir +
                               ": compute capability, memory, brand and MIG devices unknown");
    }

    void match_proc_dirs() {
        std::string dir = proc("/driver/nvidia/gpus");
        auto names = detail::list_dir(dir);
        if (h_.nvml_loaded && h_.devices.empty() && !names.empty())
            h_.notes.push_back("NVML sees no GPU but " + dir + " lists " +
                               std::to_string(names.size()) +
                               " (are the device nodes accessible?)");
        for (Device& d : h_.devices) {
            if (!d.proc_dir.empty()) continue;
            for (const std::string& n : names) {
                if (!d.pci_bus_id.empty() && normalize_pci_bus_id(n) == d.pci_bus_id)
                    d.proc_dir = dir + "/" + n;
            }
        }
    }

    // A node under the dev root: type, numbers and owner read live; stand-ins (regular files on
    // simulated hosts) and missing nodes take the numbers the driver would give them.
    gpu_host::DeviceNode node(const std::string& path, std::int64_t major,
                              std::int64_t minor) const {
        gpu_host::DeviceNode n;
        n.path = path;
        n.host_path = gpu_host::join_root(h_.dev_root, path);
        n.major = major;
        n.minor = minor;
        struct stat st {};
        if (::stat(n.host_path.c_str(), &st) != 0) return n;
        n.present = true;
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
            n.type = S_ISCHR(st.st_mode) ? 'c' : 'b';
            n.major = ::major(st.st_rdev);
            n.minor = ::minor(st.st_rdev);
        }
        n.mode = st.st_mode & 07777;
        n.uid = st.st_uid;
        n.gid = st.st_gid;
        return n;
    }

    std::int64_t major_of(std::initializer_list<const char*> names, std::int64_t fallback) const {
        for (const char* n : names) {
            if (auto it = majors_.find(n); it != majors_.end()) return it->second;
        }
        return fallback;
    }

    void device_nodes() {
        if (auto text = read_text(proc("/devices"))) majors_ = parse_proc_devices(*text);
        std::int64_t nv = major_of({"nvidia", "nvidia-frontend"}, 195);
        std::int64_t uvm = major_of({"nvidia-uvm"}, 0);
        h_.ctl = node("/dev/nvidiactl", nv, 255);
        h_.modeset = node("/dev/nvidia-modeset", nv, 254);
        h_.uvm = node("/dev/nvidia-uvm", uvm, 0);
        h_.uvm_tools = node("/dev/nvidia-uvm-tools", uvm, 1);
        for (Device& d : h_.devices)
            d.node = node("/dev/nvidia" + std::to_string(d.minor), nv, d.minor);
        if (h_.wsl) {
            h_.dxg = node("/dev/dxg", 10, 0); // misc, with a dynamic minor: read live
            if (!h_.dxg.present) h_.notes.push_back("WSL without " + h_.dxg.host_path);
            return;
        }
        std::string missing;
        for (const gpu_host::DeviceNode* n : {&h_.ctl, &h_.uvm, &h_.uvm_tools, &h_.modeset}) {
            if (!n->present) missing += (missing.empty() ? "" : ", ") + n->path;
        }
        for (const Device& d : h_.devices) {
            if (!d.node.present) missing += (missing.empty() ? "" : ", ") + d.node.path;
        }
        if (!missing.empty() && h_.has_driver())
            h_.notes.push_back("device nodes missing under " + h_.dev_root + ": " + missing +
                               " (created on demand by nvidia-modprobe or nvidia-smi as root)");
        if (h_.uvm.major == 0 && !h_.uvm.present && h_.has_driver())
            h_.notes.push_back("nvidia-uvm is not in " + proc("/devices") +
                               ": its major is unknown");
    }

    void mig_caps() {
        auto text = read_text(proc("/driver/nvidia-caps/mig-minors"));
        bool any_mig = std::any_of(h_.devices.begin(), h_.devices.end(),
                                   [](const Device& d) { return !d.migs.empty(); });
        if (!text) {
            if (any_mig)
                h_.notes.push_back("MIG devices present but " +
                                   proc("/driver/nvidia-caps/mig-minors") + " is missing");
            return;
        }
        auto minors = parse_mig_minors(*text);
        std::int64_t caps_major = major_of({"nvidia-caps"}, 0);
        auto cap = [&](std::int64_t m) {
            return node("/dev/nvidia-caps/nvidia-cap" + std::to_string(m), caps_major, m);
        };
        for (const char* key : {"config", "monitor"}) {
            if (auto it = minors.find(key); it != minors.end())
                h_.mig_config_caps.push_back(cap(it->second));
        }
        for (Device& d : h_.devices) {
            for (MigDevice& m : d.migs) {
                std::string gi = "gpu" + std::to_string(d.minor) + "/gi" + std::to_string(m.gi);
                std::string ci = gi + "/ci" + std::to_string(m.ci) + "/access";
                gi += "/access";
                auto g = minors.find(gi), c = minors.find(ci);
                if (g == minors.end() || c == minors.end()) {
                    h_.notes.push_back("MIG " + m.uuid + ": " + (g == minors.end() ? gi : ci) +
                                       " not in mig-minors");
                    continue;
                }
                m.gi_cap = cap(g->second);
                m.ci_cap = cap(c->second);
            }
        }
    }

    DiscoverOptions opt_;
    Host& h_;
    Resolver res_;
    std::optional<gpu_host::ldcache::Cache> cache_;
    std::map<std::string, std::int64_t> majors_;
};

} // namespace

Host discover(const DiscoverOptions& opt) {
    Host h;
    try {
        h.driver_root = normalize_root(opt.driver_root);
        h.dev_root = normalize_root(opt.dev_root);
        h.machine = opt.machine;
        Discovery(opt, h).run();
    } catch (const std::exception& e) {
        h.notes.push_back(std::string("discovery stopped: ") + e.what());
    }
    return h;
}

} // namespace gantry::gpu_vendors::nvidia
