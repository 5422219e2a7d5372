// The driver's files under a driver root: libraries (ld.so.cache or the standard directories),
// binaries, GSP firmware, IPC sockets and ICD files. Every path is resolved inside the root.
#include "elf/dynamic.hpp"
#include "gpu_vendors/nvidia/discover_detail.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <deque>
#include <dirent.h>
#include <memory>
#include <set>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace gantry::gpu_vendors::nvidia {

namespace {

using detail::base_name;
using detail::dir_name;
using detail::is_dir;
using detail::list_dir;
using detail::Resolver;

struct StdDir {
    std::string path;
    bool lib32;
};

// Where drivers install their libraries when there is no ld.so.cache to ask: Debian's multiarch
// directory of the machine (and its nvidia/current, Debian's own driver packages), RHEL's lib64,
// and x86-64's 32-bit companions (an arm64 driver has none).
std::vector<StdDir> standard_dirs(Machine m) {
    const std::string t = multiarch(m);
    std::vector<StdDir> dirs = {
        {"/usr/lib/" + t, false}, {"/usr/lib64", false},
        {"/lib64", false},        {"/usr/lib/nvidia", false},
        {"/lib/" + t, false},     {"/usr/lib/" + t + "/nvidia/current", false}};
    if (m == Machine::x86_64) {
        dirs.push_back({"/usr/lib/i386-linux-gnu", true});
        dirs.push_back({"/usr/lib32", true});
    }
    return dirs;
}

bool is_native(const Host& h, const gpu_host::ldcache::Entry& e) {
    return gpu_host::ldcache::is_native_of(e, elf_machine(h.machine));
}

bool is_lib32(const Host& h, const gpu_host::ldcache::Entry& e) {
    return gpu_host::ldcache::is_lib32_of(e, elf_machine(h.machine));
}

struct Candidate {
    std::string in_root;
    bool lib32;
};

// Turns resolved candidates into Library records (SONAME and class from the ELF).
void add_libraries(Host& h, Resolver& res, const std::vector<Candidate>& cands) {
    std::vector<std::pair<Library, std::optional<elf::AbiTag>>> libs;
    for (const Candidate& c : cands) {
        Library lib;
        lib.host_path = res.host(c.in_root);
        lib.name = base_name(c.in_root);
        lib.lib32 = c.lib32;
        std::optional<elf::AbiTag> abi;
        try {
            elf::Info info = elf::read_file(lib.host_path);
            const bool own = info.bits == 64 && info.machine == elf_machine(h.machine);
            const bool companion =
                h.machine == Machine::x86_64 && info.bits == 32 && info.machine == 3; // EM_386
            if (!own && !companion) {
                h.notes.push_back(lib.host_path + " is an ELF" + std::to_string(info.bits) +
                                  " object of machine " + std::to_string(info.machine) +
                                  ", not the driver's for " + to_string(h.machine) + ": skipped");
                continue;
            }
            lib.soname = info.soname;
            lib.lib32 = companion;
            abi = info.abi_tag;
        } catch (const std::exception& e) {
            h.notes.push_back("cannot read the SONAME of " + lib.host_path + ": " + e.what());
        }
        lib.caps = library_capabilities(lib.name);
        libs.emplace_back(std::move(lib), abi);
    }
    // libnvidia-tls: only the copy built for Linux 2.3.99 when there are several (LNC rule).
    const elf::AbiTag tls_abi{0, 2, 3, 99};
    for (bool is32 : {false, true}) {
        auto is_tls = [&](const auto& l) {
            return l.first.lib32 == is32 && l.first.name.starts_with("libnvidia-tls.so");
        };
        auto n = std::count_if(libs.begin(), libs.end(), is_tls);
        bool have_new = std::any_of(libs.begin(), libs.end(), [&](const auto& l) {
            return is_tls(l) && l.second == tls_abi;
        });
        if (n > 1 && have_new)
            libs.erase(
                std::remove_if(libs.begin(), libs.end(),
                               [&](const auto& l) { return is_tls(l) && l.second != tls_abi; }),
                libs.end());
    }
    for (auto& l : libs) h.libraries.push_back(std::move(l.first));
}

// A cheap first look at an ld.so.cache entry, which most often names a library that is not the
// driver's: follows symlinks that stay in the same directory with readlink alone. False when the
// chain surely ends in a file whose name is not wanted; true when it might (resolve it then).
template <typename Wanted>
bool may_end_in(Resolver& res, const std::string& path, const Wanted& wanted) {
    auto dir = res.directory(dir_name(path));
    if (!dir) return false;
    const std::string host_dir = res.host(*dir);
    std::string name = base_name(path);
    char buf[4096];
    for (int hops = 0; hops < 8; ++hops) {
        if (wanted(name)) return true;
        ssize_t n = ::readlink((host_dir + "/" + name).c_str(), buf, sizeof buf);
        if (n < 0) return errno != EINVAL && errno != ENOENT; // a plain file, or nothing
        name.assign(buf, static_cast<std::size_t>(n));
        if (name.find('/') != std::string::npos) return true; // leaves the directory
    }
    return true;
}

} // namespace

namespace detail {

std::vector<std::string> list_dir(const std::string& host_dir) {
    std::vector<std::string> out;
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(host_dir.c_str()), ::closedir);
    if (!d) return out;
    while (dirent* e = ::readdir(d.get())) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(std::move(n));
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool is_dir(const std::string& host_path) {
    struct stat st {};
    return ::stat(host_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string base_name(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string dir_name(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) return "/";
    return path.substr(0, slash);
}

std::string version_from_libraries(const Host& h, Resolver& res,
                                   const gpu_host::ldcache::Cache* cache, std::string* from) {
    static const std::string prefixes[] = {"libcuda.so.", "libnvidia-ml.so."};
    auto version_of = [](const std::string& name) -> std::string {
        for (const std::string& p : prefixes) {
            if (name.starts_with(p) && is_driver_version(name.substr(p.size())))
                return name.substr(p.size());
        }
        return {};
    };
    if (cache) {
        for (const auto& e : cache->entries) {
            if (!is_native(h, e) ||
                (!e.key.starts_with("libcuda.so") && !e.key.starts_with("libnvidia-ml.so")))
                continue;
            auto r = res.regular_file(e.value);
            if (!r) continue;
            if (std::string v = version_of(base_name(*r)); !v.empty()) {
                *from = res.host(*r);
                return v;
            }
        }
        return {};
    }
    for (const StdDir& d : standard_dirs(h.machine)) {
        if (d.lib32) continue;
        auto rd = res.resolve(d.path);
        if (!rd) continue;
        for (const std::string& name : list_dir(res.host(*rd))) {
            if (std::string v = version_of(name); !v.empty()) {
                *from = res.host(gpu_host::join_root(*rd, name));
                return v;
            }
        }
    }
    return {};
}

std::string find_nvml(const Host& h, Resolver& res, const gpu_host::ldcache::Cache* cache) {
    // WSL2: the store's NVML first (a Linux driver installed in the distribution would be the
    // cache's, and cannot work there).
    if (h.wsl && !h.wsl_driver_store.empty()) {
        const std::string& store = h.wsl_driver_store.front();
        std::string in_root = res.root() == "/" ? store : store.substr(res.root().size());
        if (auto r = res.regular_file(in_root + "/libnvidia-ml.so.1")) return *r;
    }
    if (cache) {
        for (const auto& e : cache->entries) {
            if (is_native(h, e) && e.key == "libnvidia-ml.so.1") {
                if (auto r = res.regular_file(e.value)) return *r;
            }
        }
    }
    std::vector<std::string> dirs;
    if (h.wsl) dirs.push_back("/usr/lib/wsl/lib");
    for (const StdDir& d : standard_dirs(h.machine)) {
        if (!d.lib32) dirs.push_back(d.path);
    }
    for (const std::string& d : dirs) {
        if (auto r = res.regular_file(d + "/libnvidia-ml.so.1")) return *r;
        if (!h.driver_version.empty()) {
            if (auto r = res.regular_file(d + "/libnvidia-ml.so." + h.driver_version)) return *r;
        }
    }
    return {};
}

void find_libraries(Host& h, Resolver& res, const gpu_host::ldcache::Cache* cache) {
    const std::string suffix = ".so." + h.driver_version;
    auto wanted = [&](const std::string& name) {
        return name.ends_with(suffix) || name.starts_with("libnvidia-nvvm70.so.");
    };
    std::vector<Candidate> cands;
    std::set<std::string> seen;
    std::set<std::pair<std::string, bool>> dirs;
    auto add = [&](const std::string& in_root_path, bool lib32) {
        auto r = res.regular_file(in_root_path);
        if (!r || !wanted(base_name(*r)) || !seen.insert(*r).second) return;
        cands.push_back({*r, lib32});
        dirs.emplace(dir_name(*r), lib32);
    };
    if (cache) {
        for (const auto& e : cache->entries) {
            if ((is_native(h, e) || is_lib32(h, e)) && may_end_in(res, e.value, wanted))
                add(e.value, is_lib32(h, e));
        }
    } else {
        for (const StdDir& d : standard_dirs(h.machine)) {
            auto rd = res.resolve(d.path);
            if (!rd || !is_dir(res.host(*rd))) continue;
            for (const std::string& name : list_dir(res.host(*rd))) {
                if (wanted(name)) add(gpu_host::join_root(*rd, name), d.lib32);
            }
        }
    }
    // VDPAU drivers live in a vdpau/ subdirectory the linker cache does not list.
    for (const auto& [dir, lib32] : std::set<std::pair<std::string, bool>>(dirs)) {
        std::string sub = gpu_host::join_root(dir, "vdpau");
        for (const std::string& name : list_dir(res.host(sub))) {
            if (wanted(name)) add(gpu_host::join_root(sub, name), lib32);
        }
    }
    add_libraries(h, res, cands);
    if (h.libraries.empty())
        h.notes.push_back("no driver library ending in " + suffix + " under " + h.driver_root +
                          (cache ? " (ld.so.cache " + h.ldcache_path + ")" : ""));
}

// WSL2, as nvidia-ctk's wsl mode (reference wsl-and-build-gpus.md §1): libdxcore.so from the
// lib share; from the driver store that holds libcuda.so.1.1 (the first, when several do; an
// Intel iGPU's store holds none) every library (*.so*), data file (*.bin) and Windows module
// (*.dll), mounted at its own path, and its nvidia-smi. Linux driver libraries installed inside
// the distribution are noted as shadowing the store.
void find_wsl_files(Host& h, Resolver& res) {
    const std::string share = "/usr/lib/wsl/lib", drivers = "/usr/lib/wsl/drivers";
    std::vector<std::string> stores; // in-root
    for (const std::string& name : list_dir(res.host(drivers))) {
        auto r = res.resolve(drivers + "/" + name);
        if (r && is_dir(res.host(*r)) && res.regular_file(*r + "/libcuda.so.1.1"))
            stores.push_back(*r);
    }
    for (const auto& s : stores) h.wsl_driver_store.push_back(res.host(s));
    if (stores.empty())
        h.notes.push_back("WSL: no driver store under " + res.host(drivers) +
                          " holds libcuda.so.1.1 (no NVIDIA GPU, or a Windows driver without "
                          "WSL support)");
    else if (stores.size() > 1)
        h.notes.push_back("WSL: " + std::to_string(stores.size()) +
                          " driver stores hold libcuda.so.1.1; using the first, " +
                          h.wsl_driver_store.front());
    std::vector<Candidate> cands;
    if (auto r = res.regular_file(share + "/libdxcore.so"))
        cands.push_back({*r, false});
    else
        h.notes.push_back("WSL: no libdxcore.so in " + res.host(share) +
                          " (CUDA and NVML cannot reach the GPU without it)");
    if (!stores.empty()) {
        const std::string& store = stores.front();
        for (const std::string& name : list_dir(res.host(store))) {
            auto r = res.regular_file(store + "/" + name);
            if (!r) continue;
            if (name == "nvidia-smi")
                h.binaries.push_back({res.host(*r), *r, {Capability::utility}});
            else if (name.find(".so") != std::string::npos)
                cands.push_back({*r, false});
            else if (name.ends_with(".bin") || name.ends_with(".dll"))
                h.configs.push_back({res.host(*r), *r, {}});
        }
    }
    add_libraries(h, res, cands);
    std::set<std::string> seen_dirs;
    for (const StdDir& d : standard_dirs(h.machine)) {
        auto rd = res.resolve(d.path);
        if (!rd || !is_dir(res.host(*rd)) || !seen_dirs.insert(*rd).second) continue;
        for (const std::string& name : list_dir(res.host(*rd)))
            if (name.starts_with("libcuda.so.") || name.starts_with("libnvidia-ml.so."))
                h.wsl_shadowing.push_back(gpu_host::join_root(*rd, name));
    }
    h.notes.push_back("WSL layout: libdxcore.so from " + res.host(share) + ", the driver from " +
                      (stores.empty() ? std::string("no store") : h.wsl_driver_store.front()) +
                      ", GPUs through /dev/dxg");
}

void find_binaries(Host& h, Resolver& res) {
    using C = Capability;
    static const std::pair<const char*, C> bins[] = {
        {"nvidia-smi", C::utility},
        {"nvidia-debugdump", C::utility},
        {"nvidia-persistenced", C::utility},
        {"nv-fabricmanager", C::utility},
        {"nvidia-cuda-mps-control", C::compute},
        {"nvidia-cuda-mps-server", C::compute},
        {"nvidia-imex", C::compute},
        {"nvidia-imex-ctl", C::compute},
    };
    std::vector<std::string> dirs = {"/usr/bin", "/bin", "/usr/sbin"};
    if (h.wsl) dirs.insert(dirs.begin(), "/usr/lib/wsl/lib");
    for (const auto& [name, cap] : bins) {
        for (const std::string& d : dirs) {
            if (auto r = res.regular_file(d + "/" + name)) {
                h.binaries.push_back({res.host(*r), "/usr/bin/" + std::string(name), {cap}});
                break;
            }
        }
    }
}

void find_firmware(Host& h, Resolver& res) {
    if (h.driver_version.empty()) return;
    std::vector<std::string> bases;
    if (h.driver_root == "/") { // the kernel's custom firmware path is a live-host setting
        std::string custom;
        try {
            custom = fs::read_file("/sys/module/firmware_class/parameters/path", 4096);
        } catch (const std::exception&) {
        }
        while (!custom.empty() && (custom.back() == '\n' || custom.back() == ' '))
            custom.pop_back();
        if (!custom.empty() && custom[0] == '/') bases.push_back(custom);
    }
    struct utsname u {};
    std::string release = ::uname(&u) == 0 ? u.release : "";
    if (!release.empty()) bases.push_back("/lib/firmware/updates/" + release);
    bases.push_back("/lib/firmware/updates");
    if (!release.empty()) bases.push_back("/lib/firmware/" + release);
    bases.push_back("/lib/firmware");
    std::set<std::string> names;
    for (const std::string& base : bases) {
        std::string dir = base + "/nvidia/" + h.driver_version;
        auto rd = res.resolve(dir);
        if (!rd) continue;
        for (const std::string& name : list_dir(res.host(*rd))) {
            if (!name.starts_with("gsp") || !name.ends_with(".bin") || names.count(name)) continue;
            if (auto r = res.regular_file(gpu_host::join_root(*rd, name))) {
                names.insert(name);
                h.firmware.push_back(
                    {res.host(*r), "/lib/firmware/nvidia/" + h.driver_version + "/" + name, {}});
            }
        }
    }
}

void find_ipc(Host& h, Resolver& res) {
    using C = Capability;
    static const std::pair<const char*, C> paths[] = {
        {"/run/nvidia-persistenced/socket", C::utility},
        {"/var/run/nvidia-persistenced/socket", C::utility},
        {"/run/nvidia-fabricmanager/socket", C::utility},
        {"/var/run/nvidia-fabricmanager/socket", C::utility},
        {"/tmp/nvidia-mps", C::compute},
    };
    std::set<std::string> seen;
    for (const auto& [path, cap] : paths) {
        auto r = res.resolve(path);
        struct stat st {};
        if (!r || ::lstat(res.host(*r).c_str(), &st) != 0) continue;
        bool mps = cap == C::compute;
        if (mps != S_ISDIR(st.st_mode) || !seen.insert(*r).second) continue;
        h.ipc.push_back({res.host(*r), path, cap});
    }
}

void find_configs(Host& h, Resolver& res) {
    using C = Capability;
    static const std::pair<const char*, C> files[] = {
        {"/usr/share/glvnd/egl_vendor.d/10_nvidia.json", C::graphics},
        {"/usr/share/egl/egl_external_platform.d/15_nvidia_gbm.json", C::graphics},
        {"/usr/share/egl/egl_external_platform.d/10_nvidia_wayland.json", C::graphics},
        {"/usr/share/egl/egl_external_platform.d/09_nvidia_wayland2.json", C::graphics},
        {"/usr/share/egl/egl_external_platform.d/20_nvidia_xcb.json", C::graphics},
        {"/usr/share/egl/egl_external_platform.d/20_nvidia_xlib.json", C::graphics},
        {"/usr/share/nvidia/nvoptix.bin", C::graphics},
        {"/etc/vulkan/icd.d/nvidia_icd.json", C::graphics},
        {"/usr/share/vulkan/icd.d/nvidia_icd.json", C::graphics},
        {"/etc/vulkan/icd.d/nvidia_icd.@.json", C::graphics},
        {"/usr/share/vulkan/icd.d/nvidia_icd.@.json", C::graphics},
        {"/etc/vulkan/icd.d/nvidia_layers.json", C::graphics},
        {"/etc/vulkan/implicit_layer.d/nvidia_layers.json", C::graphics},
        {"/usr/share/vulkan/implicit_layer.d/nvidia_layers.json", C::graphics},
        {"/etc/OpenCL/vendors/nvidia.icd", C::compute},
    };
    for (const auto& [pattern, cap] : files) {
        // RPM driver packages name the Vulkan ICD after the machine (%{_target_cpu}): "@"
        std::string path = pattern;
        if (auto at = path.find('@'); at != std::string::npos)
            path.replace(at, 1, to_string(h.machine));
        if (auto r = res.regular_file(path)) {
            Capabilities caps{cap};
            if (cap == C::graphics) caps.insert(C::display);
            h.configs.push_back({res.host(*r), path, caps});
        }
    }
}

} // namespace detail

} // namespace gantry::gpu_vendors::nvidia
