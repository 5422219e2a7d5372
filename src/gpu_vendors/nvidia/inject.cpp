#include "gpu_vendors/nvidia/inject.hpp"

#include "gpu_vendors/device_nodes.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/host_ldconfig.hpp"
#include "util/json.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <unistd.h>

namespace gantry::gpu_vendors::nvidia {

namespace {

bool wanted(const gpu_vendors::nvidia::Capabilities& have,
            const gpu_vendors::nvidia::Capabilities& want) {
    if (have.empty()) return true;
    for (auto c : have)
        if (want.count(c)) return true;
    return false;
}

int major_of(const std::string& version) {
    try {
        return std::stoi(version.substr(0, version.find('.')));
    } catch (...) {
        return 0;
    }
}

void add_device(oci::RuntimeSpec& spec, const gpu_host::DeviceNode& n, const std::string& what,
                bool required, int access = R_OK | W_OK) {
    if (!n.present) {
        if (!required) return;
        throw Error(
            Errc::run_failed, what + " has no device node " + n.host_path,
            "load the NVIDIA kernel modules (nvidia-modprobe, or nvidia-smi as root) or point "
            "--dev-root at the directory holding dev/nvidia*");
    }
    if (::access(n.host_path.c_str(), access) != 0)
        throw Error(Errc::run_failed,
                    what + ": device node " + n.host_path + " is not " +
                        (access & W_OK ? "readable and writable" : "readable") + " by you",
                    "ask the administrator for access to the NVIDIA devices (mode 0666 or your "
                    "group on /dev/nvidia*)");
    gpu_vendors::add_device_node(spec, n, false);
}

void add_bind(oci::RuntimeSpec& spec, const std::string& host, const std::string& dst,
              std::vector<std::string> opts) {
    for (auto& m : spec.mounts)
        if (m.destination == dst) return;
    spec.mounts.push_back(oci::Mount{dst, "bind", host, std::move(opts)});
}

// The path a host file has below the driver root: where it goes in the container on WSL2.
std::string below_root(const gpu_vendors::nvidia::Host& host, const std::string& host_path) {
    const std::string& r = host.driver_root;
    if (r == "/" || !host_path.starts_with(r) || host_path.size() <= r.size() ||
        host_path[r.size()] != '/')
        return host_path;
    return host_path.substr(r.size());
}

// WSL2, as nvidia-ctk's wsl mode (reference wsl-and-build-gpus.md §1): /dev/dxg bind-mounted
// (it is 0666), libdxcore.so and the driver store's files at their own paths, /usr/bin/nvidia-smi
// a link to the store's, and the store and the lib share in the container's linker cache. The
// capabilities select nothing there (the driver's files work together).
void inject_wsl(oci::RuntimeSpec& spec, const gpu_vendors::nvidia::Host& host) {
    if (host.wsl_driver_store.empty())
        throw Error(Errc::run_failed,
                    "WSL2 without the NVIDIA driver: no driver store under " +
                        gpu_host::join_root(host.driver_root, "/usr/lib/wsl/drivers") +
                        " holds libcuda.so.1.1",
                    "install the current NVIDIA driver on Windows (it brings WSL2 support; never "
                    "a Linux driver inside WSL), then restart WSL (wsl --shutdown)");
    const gpu_host::DeviceNode& dxg = host.dxg;
    if (!dxg.present)
        throw Error(Errc::run_failed, "WSL2 without its GPU device " + dxg.host_path,
                    "use WSL2, not WSL1 (wsl --set-version DISTRO 2), with a current Windows GPU "
                    "driver, or point --dev-root at the directory holding dev/dxg");
    if (::access(dxg.host_path.c_str(), R_OK | W_OK) != 0)
        throw Error(Errc::run_failed,
                    "the WSL2 GPU device " + dxg.host_path + " is not readable and writable by you",
                    "WSL creates it with mode 0666: chmod 0666 /dev/dxg as root");
    gpu_vendors::add_device_node(spec, dxg, false);
    const std::vector<std::string> ro{"bind", "ro", "nosuid", "nodev"};
    for (auto& lib : host.libraries) {
        std::string dst = below_root(host, lib.host_path);
        add_bind(spec, lib.host_path, dst, ro);
        // the SONAME link (libcuda.so.1 -> libcuda.so.1.1) beside the mount, in the container's
        // own directory (each file is mounted alone), so the linker cache lists the library
        if (!lib.soname.empty() && lib.soname != lib.name)
            spec.setup.symlinks.emplace_back(dst.substr(0, dst.rfind('/') + 1) + lib.soname,
                                             lib.name);
    }
    for (const auto* files : {&host.binaries, &host.configs})
        for (auto& f : *files) add_bind(spec, f.host_path, f.container_path, ro);
    for (auto& b : host.binaries)
        if (b.container_path.ends_with("/nvidia-smi"))
            spec.setup.symlinks.emplace_back("/usr/bin/nvidia-smi", b.container_path);
    std::string store = below_root(host, host.wsl_driver_store.front());
    spec.setup.ld_conf.emplace_back("/etc/ld.so.conf.d/00-gantry-wsl.conf",
                                    store + "\n/usr/lib/wsl/lib\n");
    spec.setup.ldconfig = true;
    spec.setup.host_ldconfig = host_ldconfig::find();
}

} // namespace

bool compat_applies(const std::string& compat, const std::string& host, const std::string& note,
                    int host_cuda) {
    int c = major_of(compat), h = major_of(host);
    if (!note.empty()) {
        auto j = safe_json::parse_or_discarded(note);
        if (j.is_object() && j.contains("Driver") && j["Driver"].is_array() &&
            j.contains("CUDA Version") && j["CUDA Version"].is_string()) {
            bool listed = false;
            for (auto& b : j["Driver"])
                if (b.is_number_integer() && b.get<int>() == h) listed = true;
            std::string v = j["CUDA Version"];
            int major = 0, minor = 0;
            if (std::sscanf(v.c_str(), "%d.%d", &major, &minor) < 1) return false;
            return listed && host_cuda > 0 && major * 1000 + minor * 10 > host_cuda;
        }
    }
    return c > 0 && h > 0 && c > h;
}

void inject_gpus(oci::RuntimeSpec& spec, const gpu_vendors::nvidia::Host& host,
                 const gpu_vendors::nvidia::Selection& sel,
                 const gpu_vendors::nvidia::Capabilities& caps, const ImageGpuLayout& layout,
                 const std::string& state_dir) {
    if (host.wsl) {
        inject_wsl(spec, host);
    } else {
        inject_native(spec, host, sel, caps, layout, state_dir);
    }
    // A downstream NVIDIA hook (if any) must not inject a second time (reference §7.6).
    spec.env.erase(std::remove_if(spec.env.begin(), spec.env.end(),
                                  [](const std::string& e) {
                                      return e.starts_with("NVIDIA_VISIBLE_DEVICES=");
                                  }),
                   spec.env.end());
    spec.env.push_back("NVIDIA_VISIBLE_DEVICES=void");
}

void inject_native(oci::RuntimeSpec& spec, const gpu_vendors::nvidia::Host& host,
                   const gpu_vendors::nvidia::Selection& sel,
                   const gpu_vendors::nvidia::Capabilities& caps, const ImageGpuLayout& layout,
                   const std::string& state_dir) {
    if (!host.has_driver())
        throw Error(Errc::run_failed,
                    "no NVIDIA driver found under driver root " + host.driver_root +
                        (host.notes.empty() ? "" : " (" + host.notes.front() + ")"),
                    "install the NVIDIA driver, or point --driver-root at it");
    const std::vector<std::string> lib_opts{"bind", "ro", "nosuid", "nodev"};
    // Device nodes: the control node, the selected GPUs and MIG capabilities, uvm for compute.
    add_device(spec, host.ctl, "the NVIDIA control device", true);
    for (auto* d : sel.gpus)
        add_device(spec, d->node, "GPU " + std::to_string(d->index) + " (" + d->uuid + ")", true);
    for (auto* m : sel.migs) {
        // capability nodes are 0444 by design: clients open them read-only
        add_device(spec, m->gi_cap, "MIG device " + m->uuid, true, R_OK);
        add_device(spec, m->ci_cap, "MIG device " + m->uuid, true, R_OK);
    }
    if (caps.count(gpu_vendors::nvidia::Capability::compute)) {
        add_device(spec, host.uvm, "nvidia-uvm", false);
        add_device(spec, host.uvm_tools, "nvidia-uvm-tools", false);
    }
    if (caps.count(gpu_vendors::nvidia::Capability::display))
        add_device(spec, host.modeset, "nvidia-modeset", false);

    // Libraries, with their SONAME links and the few .so links applications dlopen.
    bool any_lib = false;
    bool cache_shadows = false; // the image's cache names a SONAME we inject
    for (auto& lib : host.libraries) {
        if (lib.lib32 && !caps.count(gpu_vendors::nvidia::Capability::compat32)) continue;
        if (!wanted(lib.caps, caps)) continue;
        const std::string& dir = lib.lib32 ? layout.lib32_dir : layout.lib_dir;
        std::string dst = dir + "/" + lib.name;
        add_bind(spec, lib.host_path, dst, lib_opts);
        any_lib = true;
        if (layout.cached_sonames &&
            (layout.cached_sonames->count(lib.soname) || layout.cached_sonames->count(lib.name)))
            cache_shadows = true;
        if (!lib.soname.empty() && lib.soname != lib.name)
            spec.setup.symlinks.emplace_back(dir + "/" + lib.soname, lib.name);
        if (lib.soname == "libcuda.so.1")
            spec.setup.symlinks.emplace_back(dir + "/libcuda.so", "libcuda.so.1");
        if (lib.soname == "libnvidia-opticalflow.so.1")
            spec.setup.symlinks.emplace_back(dir + "/libnvidia-opticalflow.so", lib.soname);
        if (lib.name.starts_with("libGLX_nvidia.so."))
            spec.setup.symlinks.emplace_back(dir + "/libGLX_indirect.so.0", lib.name);
    }
    for (auto& b : host.binaries)
        if (wanted(b.caps, caps)) add_bind(spec, b.host_path, b.container_path, lib_opts);
    for (auto& f : host.firmware) add_bind(spec, f.host_path, f.container_path, lib_opts);
    for (auto& c : host.configs) // Vulkan/EGL/OpenCL vendor files for graphics, video, compute
        if (c.selected_by(caps)) add_bind(spec, c.host_path, c.container_path, lib_opts);
    for (auto& s : host.ipc)
        if (caps.count(s.cap))
            add_bind(spec, s.host_path, s.container_path, {"bind", "nosuid", "nodev", "noexec"});

    // The driver must not create or chmod device nodes on the container's behalf.
    if (!host.proc_root.empty()) {
        std::optional<std::string> params;
        try {
            params = gpu_vendors::nvidia::params_for_container(
                fs::read_file(host.proc_root + "/driver/nvidia/params", 1 << 20));
        } catch (const Error&) { // no driver params on this host: nothing to turn off
        }
        if (params) {
            std::string copy = state_dir + "/nvidia-params";
            fs::write_atomic(copy, *params, 0444, fs::Sync::volatile_only); // per run
            spec.setup.overlays.emplace_back(copy, "/proc/driver/nvidia/params");
        }
    }

    // Forward compatibility: a drop-in, never a mount of files the image controls.
    if (!layout.compat_libcuda.empty()) {
        std::string ver = layout.compat_libcuda.substr(layout.compat_libcuda.rfind(".so.") + 4);
        if (compat_applies(ver, host.driver_version, layout.compat_note, host.cuda_version)) {
            std::string dir = layout.compat_libcuda.substr(0, layout.compat_libcuda.rfind('/'));
            spec.setup.ld_conf.emplace_back("/etc/ld.so.conf.d/00-cuda-compat-gantry.conf",
                                            dir + "\n");
        }
    }
    // An image whose cache already names a driver SONAME (a stub libcuda, an old driver copy)
    // gets a drop-in that sorts first, so the host driver's directory wins in the new cache.
    if (cache_shadows)
        spec.setup.ld_conf.emplace_back("/etc/ld.so.conf.d/00-gantry-driver.conf",
                                        layout.lib_dir + "\n" + layout.lib32_dir + "\n");
    if (any_lib && (cache_shadows || !spec.setup.ld_conf.empty() ||
                    (layout.cached_sonames && layout.lib_dir != "/usr/lib/x86_64-linux-gnu" &&
                     layout.lib_dir != "/usr/lib64"))) {
        spec.setup.ldconfig = true;
        spec.setup.host_ldconfig = host_ldconfig::find();
    }
}

} // namespace gantry::gpu_vendors::nvidia
