#include "gpu_vendors/nvidia/doctor_rules.hpp"

#include "gpu_vendors/nvidia/cuda_version.hpp"
#include "gpu_vendors/nvidia/kernels.hpp"
#include "gpu_vendors/nvidia/require.hpp"
#include "gpu_vendors/nvidia/tegra.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <unistd.h>

namespace gantry::gpu_vendors::nvidia {

namespace {

void node(std::vector<findings::Finding>& out, const gpu_host::DeviceNode& n, const std::string& id,
          const std::string& what, findings::Severity missing) {
    if (!n.present) {
        out.push_back({id, missing, what + " " + n.host_path + " does not exist",
                       "load the NVIDIA kernel modules (nvidia-modprobe, or nvidia-smi as root) or "
                       "point --dev-root at the directory holding dev/nvidia*"});
    } else if (::access(n.host_path.c_str(), R_OK | W_OK) != 0) {
        out.push_back(
            {id + "-ACCESS", findings::Severity::fail,
             what + " " + n.host_path + " is not readable and writable by you",
             "ask the administrator for access (mode 0666 or your group on /dev/nvidia*)"});
    }
}

std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (auto& x : v) out += (out.empty() ? "" : ", ") + x;
    return out;
}

// WSL2 (reference wsl-and-build-gpus.md §1): the Windows driver seen through /dev/dxg and the
// driver store; no kernel module, nodes per GPU or MIG.
std::vector<findings::Finding> check_wsl_host(const gpu_vendors::nvidia::Host& host) {
    std::vector<findings::Finding> out;
    const std::string drivers = gpu_host::join_root(host.driver_root, "/usr/lib/wsl/drivers");
    if (host.wsl_driver_store.empty()) {
        out.push_back({"HOST-NO-DRIVER", findings::Severity::fail,
                       "WSL2 without the NVIDIA driver: no driver store under " + drivers +
                           " holds libcuda.so.1.1",
                       "install the current NVIDIA driver on Windows (it brings WSL2 support; "
                       "never a Linux driver inside WSL), then restart WSL (wsl --shutdown)"});
        return out;
    }
    const std::string& store = host.wsl_driver_store.front();
    if (!host.has_driver())
        out.push_back({"HOST-NO-DRIVER", findings::Severity::fail,
                       "WSL2: the NVIDIA driver store " + store +
                           " is there but its NVML reports no driver" +
                           (host.notes.empty() ? "" : " (" + host.notes.back() + ")"),
                       "update the Windows NVIDIA driver and WSL (wsl --update), then restart "
                       "WSL (wsl --shutdown)"});
    else
        out.push_back({"HOST-DRIVER", findings::Severity::pass,
                       "driver " + host.driver_version +
                           " (the Windows host's NVIDIA driver, read with NVML from the driver "
                           "store) serves CUDA up to " +
                           std::to_string(host.cuda_version / 1000) + "." +
                           std::to_string(host.cuda_version % 1000 / 10),
                       ""});
    out.push_back(
        {"HOST-WSL", findings::Severity::info,
         "WSL2: GPUs through /dev/dxg, the driver from " + store +
             (host.wsl_driver_store.size() > 1
                  ? " (the first of " + std::to_string(host.wsl_driver_store.size()) +
                        " stores holding libcuda.so.1.1: " + joined(host.wsl_driver_store) + ")"
                  : ""),
         ""});
    if (std::none_of(
            host.libraries.begin(), host.libraries.end(),
            [](const gpu_vendors::nvidia::Library& l) { return l.name == "libdxcore.so"; }))
        out.push_back({"HOST-WSL-DXCORE", findings::Severity::fail,
                       "WSL2: no libdxcore.so in " +
                           gpu_host::join_root(host.driver_root, "/usr/lib/wsl/lib") +
                           ": CUDA and NVML cannot reach the GPU without it",
                       "check that WSL mounts its lib share (/usr/lib/wsl/lib; wsl --update), or "
                       "point --driver-root at the root holding usr/lib/wsl"});
    if (!host.dxg.present)
        out.push_back({"HOST-NODE-DXG", findings::Severity::fail,
                       "the WSL2 GPU device " + host.dxg.host_path + " does not exist",
                       "use WSL2, not WSL1 (wsl --set-version DISTRO 2), with a current Windows "
                       "GPU driver, or point --dev-root at the directory holding dev/dxg"});
    else if (::access(host.dxg.host_path.c_str(), R_OK | W_OK) != 0)
        out.push_back(
            {"HOST-NODE-DXG-ACCESS", findings::Severity::fail,
             "the WSL2 GPU device " + host.dxg.host_path + " is not readable and writable by you",
             "WSL creates it with mode 0666: chmod 0666 /dev/dxg as root"});
    if (host.has_driver() && host.devices.empty())
        out.push_back({"HOST-NO-GPU", findings::Severity::fail,
                       "WSL2: the driver reports no GPU (no adapter of WDDM 2.7 or newer)",
                       "update the Windows NVIDIA driver; check nvidia-smi on Windows"});
    for (auto& d : host.devices)
        out.push_back({"HOST-GPU", findings::Severity::info,
                       "GPU " + std::to_string(d.index) + ": " + d.name + " (" + d.uuid +
                           "), compute capability " + std::to_string(d.cc_major) + "." +
                           std::to_string(d.cc_minor),
                       ""});
    out.push_back({"WSL-NO-MIG", findings::Severity::info,
                   "MIG and per-GPU selection do not exist on WSL2: a container gets every GPU "
                   "(CUDA_VISIBLE_DEVICES narrows what a process uses)",
                   ""});
    if (!host.wsl_shadowing.empty())
        out.push_back({"WSL-LINUX-DRIVER", findings::Severity::warn,
                       "a Linux NVIDIA driver is installed inside this WSL distribution (" +
                           joined(host.wsl_shadowing) +
                           "): it shadows the Windows driver's libraries for programs run here "
                           "(\"Failed to initialize NVML\", \"no CUDA-capable device\"); "
                           "containers get the store's",
                       "remove the Linux driver packages (apt-get purge 'libnvidia-compute-*' "
                       "'nvidia-driver-*', or the .run installer's --uninstall): on WSL2 the "
                       "driver comes from Windows"});
    return out;
}

} // namespace

std::vector<findings::Finding> check_host(const gpu_vendors::nvidia::Host& host) {
    if (host.wsl) return check_wsl_host(host);
    if (host.tegra) return check_tegra_host(host);
    std::vector<findings::Finding> out;
    if (!host.has_driver()) {
        out.push_back({"HOST-NO-DRIVER", findings::Severity::fail,
                       "no NVIDIA driver under driver root " + host.driver_root +
                           (host.notes.empty() ? "" : " (" + host.notes.front() + ")"),
                       "install the NVIDIA driver, or point --driver-root at it"});
        return out;
    }
    out.push_back({"HOST-DRIVER", findings::Severity::pass,
                   "driver " + host.driver_version + " serves CUDA up to " +
                       std::to_string(host.cuda_version / 1000) + "." +
                       std::to_string(host.cuda_version % 1000 / 10),
                   ""});
    if (!host.nvml_loaded)
        out.push_back(
            {"HOST-NVML", findings::Severity::warn,
             "NVML (libnvidia-ml.so.1) could not be used: GPU models, compute capabilities "
             "and MIG are unknown",
             "check the driver installation under " + host.driver_root});
    if (host.devices.empty())
        out.push_back(
            {"HOST-NO-GPU", findings::Severity::fail, "the driver reports no GPU",
             "check `nvidia-smi` on the host; a GPU may be excluded or fallen off the bus"});
    node(out, host.ctl, "HOST-NODE-CTL", "the control device", findings::Severity::fail);
    node(out, host.uvm, "HOST-NODE-UVM", "nvidia-uvm (needed by CUDA)", findings::Severity::warn);
    for (auto& d : host.devices) {
        node(out, d.node, "HOST-NODE-GPU", "GPU " + std::to_string(d.index) + "'s device",
             findings::Severity::fail);
        std::string cc =
            d.cc_major ? std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor) : "unknown";
        out.push_back({"HOST-GPU", findings::Severity::info,
                       "GPU " + std::to_string(d.index) + ": " + d.name + " (" + d.uuid +
                           "), compute capability " + cc +
                           (d.mig_enabled ? ", MIG enabled with " + std::to_string(d.migs.size()) +
                                                " instance(s)"
                                          : ""),
                       ""});
    }
    auto p = check_persistence(host);
    out.insert(out.end(), p.begin(), p.end());
    return out;
}

namespace {

bool has_lib(const ImageFacts& img, const char* prefix) {
    return std::any_of(img.lib_names.begin(), img.lib_names.end(),
                       [&](const std::string& n) { return n.starts_with(prefix); });
}

const image_facts::PipPackage* pip_package(const ImageFacts& img, const std::string& name) {
    for (auto& p : img.pip)
        if (p.name == name) return &p;
    return nullptr;
}

bool has_pip(const ImageFacts& img, const char* prefix) {
    return std::any_of(img.pip.begin(), img.pip.end(), [&](const image_facts::PipPackage& p) {
        return p.name.starts_with(prefix);
    });
}

void check_torch(std::vector<findings::Finding>& out, const gpu_vendors::nvidia::Host& host,
                 const ImageFacts& img, const TorchInfo& torch) {
    std::string where = " (" + img.torch_path + ")";
    std::string who = "PyTorch " + torch.version + where;
    if (torch.cuda.empty()) {
        out.push_back({"TORCH-CPU-ONLY", findings::Severity::warn,
                       who + " is a CPU-only build: torch.cuda.is_available() will be False",
                       "install a CUDA build, e.g. pip install torch --index-url "
                       "https://download.pytorch.org/whl/cu126"});
        return;
    }
    auto tv = CudaVersion::parse(torch.cuda);
    if (host.has_driver() && tv) {
        if (auto dv = DriverVersion::parse(host.driver_version)) {
            auto c = check_driver(*tv, *dv);
            if (c.status == DriverStatus::too_old)
                out.push_back({"TORCH-CUDA-TOO-NEW", findings::Severity::fail,
                               who + " is built for CUDA " + torch.cuda + ": " + c.message,
                               "upgrade the driver to " +
                                   (c.minimum ? c.minimum->text : std::string("a newer branch")) +
                                   " or newer, or install a torch build for an older CUDA",
                               tv->encoded()});
        }
    }
    // The CUDA runtime the image ships next to torch: bare libcudart.so.N names (major only),
    // then wheels and versioned file names (major.minor).
    std::set<std::string> reported;
    if (tv) {
        auto mismatch = [&](const std::string& what, int major, int minor) {
            if (!reported.insert(what).second) return;
            bool other_major = major != tv->major;
            bool older = !other_major && minor >= 0 && minor < tv->minor;
            if (!other_major && !older) return;
            out.push_back(
                {"TORCH-CUDA-MISMATCH", findings::Severity::warn,
                 who + " is built for CUDA " + torch.cuda + " but the image ships " + what +
                     (older ? ", an older CUDA " + std::to_string(major) + " runtime" : ""),
                 other_major ? "install a torch build matching the image's CUDA " +
                                   std::to_string(major) + ", or the nvidia-*-cu" +
                                   std::to_string(tv->major) + " wheels torch expects"
                             : "install the CUDA runtime torch pins (pip install "
                               "nvidia-cuda-runtime-cu" +
                                   std::to_string(tv->major) + "==" + torch.cuda +
                                   ".*) or a torch build for CUDA " + std::to_string(major) + "." +
                                   std::to_string(minor)});
        };
        for (auto& n : img.lib_names)
            if (n.starts_with("libcudart.so.") &&
                !image_facts::file_name_version(n, "libcudart.so.", 3)) {
                int m = std::atoi(n.c_str() + 13);
                if (m) mismatch(n, m, -1);
            }
        for (auto& e : img.cuda)
            if (auto mm = image_facts::major_minor(e.version))
                mismatch(e.source, mm->first, mm->second);
    }
    // Exact pins of torch's own wheel (Requires-Dist nvidia-cudnn-cu12==9.1.0.70).
    if (auto* t = pip_package(img, "torch"))
        for (auto& [name, version] : t->pins) {
            if (!name.starts_with("nvidia-")) continue;
            auto* have = pip_package(img, name);
            if (have && have->version != version)
                out.push_back({"TORCH-WHEEL-MISMATCH", findings::Severity::warn,
                               who + " pins " + name + "==" + version + " but " + have->path +
                                   " is version " + have->version,
                               "pip install " + name + "==" + version +
                                   " (or reinstall torch so pip resolves its pins)"});
        }
    if (!has_lib(img, "libcudnn.so") && !has_lib(img, "libcudnn_") && !has_pip(img, "nvidia-cudnn"))
        out.push_back({"CUDNN-MISSING", findings::Severity::fail,
                       who + " needs cuDNN but the image has no libcudnn (no libcudnn.so* file, "
                             "no nvidia-cudnn wheel)",
                       "install the nvidia-cudnn wheel torch pins (pip install torch pulls it), "
                       "or use a cudnn image flavour"});
    if (!has_lib(img, "libnccl.so") && !has_pip(img, "nvidia-nccl"))
        out.push_back({"NCCL-MISSING", findings::Severity::warn,
                       who + " is a CUDA build but the image has no libnccl (no libnccl.so* "
                             "file, no nvidia-nccl wheel): distributed training fails",
                       "install the nvidia-nccl wheel torch pins"});
}

// cuDNN, NCCL or TensorRT built for another CUDA major than the image's CUDA.
void check_lib_cuda(std::vector<findings::Finding>& out, const ImageFacts& img,
                    const std::vector<image_facts::Evidence>& cudas) {
    if (cudas.empty() || !cudas.front().built_for_major) return;
    const image_facts::Evidence& c = cudas.front();
    auto check = [&](const char* what, const std::vector<image_facts::Evidence>& evs,
                     const char* fix) {
        for (auto& e : evs) {
            if (!e.built_for_major || e.built_for_major == c.built_for_major) continue;
            out.push_back(
                {"LIB-CUDA-MISMATCH", findings::Severity::warn,
                 std::string(what) + " " + e.version + " (" + e.source + ") is built for CUDA " +
                     std::to_string(e.built_for_major) + " but the image's CUDA is " + c.version +
                     " (" + c.source + "): it fails to load or falls back",
                 std::string("install the CUDA ") + std::to_string(c.built_for_major) +
                     " build of " + what + " (" + fix + std::to_string(c.built_for_major) + ")"});
            return;
        }
    };
    check("cuDNN", img.cudnn, "nvidia-cudnn-cu");
    check("NCCL", img.nccl, "nvidia-nccl-cu");
    check("TensorRT", img.tensorrt, "tensorrt-cu");
}

std::string components(const ImageFacts& img, const std::vector<image_facts::Evidence>& cudas) {
    std::string s;
    auto add = [&](const char* what, const std::vector<image_facts::Evidence>& evs) {
        for (auto& e : evs) {
            if (!s.empty()) s += "; ";
            s += std::string(what) + " " + e.version + " (" + e.source + ")";
        }
    };
    add("CUDA", cudas);
    add("cuDNN", img.cudnn);
    add("NCCL", img.nccl);
    add("TensorRT", img.tensorrt);
    if (auto t = parse_torch_version(img.torch_version_py)) {
        if (!s.empty()) s += "; ";
        s += "PyTorch " + t->version + " (" + img.torch_path + ")";
    }
    if (!img.glibc.empty()) {
        if (!s.empty()) s += "; ";
        s += "glibc " + img.glibc + " (" + img.glibc_source + ")";
    }
    return s;
}

std::string glibc_string(std::pair<int, int> v) {
    return std::to_string(v.first) + "." + std::to_string(v.second);
}

} // namespace

std::vector<findings::Finding> check_driver_needs(const std::string& ref,
                                                  const std::set<std::string>& image_libs,
                                                  const std::set<std::string>& injected,
                                                  const std::vector<DriverLibNeeds>& needs,
                                                  bool has_gpu_code) {
    if (needs.empty()) return {};
    if (!image_libs.count("libc.so.6")) {
        if (!has_gpu_code) return {}; // device nodes alone are fine in a musl or static image
        return {{"DRIVER-NO-GLIBC", findings::Severity::warn,
                 ref +
                     " has GPU code but no glibc (no libc.so.6 in its library directories): "
                     "the NVIDIA driver's libraries (" +
                     needs.front().path +
                     ", ...) are glibc objects and cannot load in it (CUDA reports an "
                     "insufficient driver)",
                 "build the image on a glibc base (Debian, Ubuntu, UBI); musl images such as "
                 "Alpine cannot load the driver"}};
    }
    std::map<std::string, std::string> missing; // soname -> the first library that needs it
    for (auto& n : needs)
        for (auto& so : n.needed)
            if (!image_libs.count(so) && !injected.count(so) && !missing.count(so))
                missing[so] = n.path;
    if (missing.empty()) return {};
    std::string names;
    for (auto& [so, lib] : missing) names += (names.empty() ? "" : ", ") + so;
    const auto& [first, lib] = *missing.begin();
    return {{"DRIVER-LIB-NEEDS-MISSING", findings::Severity::warn,
             ref + " lacks " + names + ", which the injected driver librar" +
                 (missing.size() > 1 ? "ies need" : "y needs") + " (" + lib + " needs " + first +
                 "): they will fail to load",
             "add them to the image: the libc6 package ships libpthread.so.0, libdl.so.2 and "
             "librt.so.1 (glibc 2.34+ programs no longer name them, so an image staged from "
             "ldd's output misses them)"}};
}

std::vector<findings::Finding> check_glibc(const ImageFacts& img,
                                           const std::vector<GlibcNeed>& needs) {
    std::vector<findings::Finding> out;
    if (img.glibc.empty()) return out;
    auto have = image_facts::major_minor(img.glibc);
    if (!have) return out;
    std::set<std::string> defs(img.glibc_defs.begin(), img.glibc_defs.end());
    const GlibcNeed* worst_lib = nullptr;
    std::size_t count = 0;
    for (auto& n : needs) {
        if (n.glibc.first == 0) continue;
        // libc.so.6 defines every GLIBC_x.y up to its release that added symbols; when its
        // definitions are known, the dynamic loader's own test applies.
        bool missing = defs.empty()
                           ? n.glibc > *have
                           : n.glibc > *have && !defs.count("GLIBC_" + glibc_string(n.glibc));
        if (!missing) continue;
        ++count;
        if (!worst_lib || n.glibc > worst_lib->glibc) worst_lib = &n;
    }
    if (!worst_lib) return out;
    std::string need = glibc_string(worst_lib->glibc);
    out.push_back({"GLIBC-TOO-OLD", findings::Severity::fail,
                   img.ref + " has glibc " + img.glibc + " (" + img.glibc_source +
                       ") but the injected driver library " + worst_lib->path + " needs GLIBC_" +
                       need +
                       (count > 1 ? " (" + std::to_string(count) +
                                        " injected libraries need "
                                        "more than " +
                                        img.glibc + ")"
                                  : "") +
                       ": the dynamic loader fails with \"version `GLIBC_" + need + "' not found\"",
                   "use an image based on glibc " + need +
                       " or newer (e.g. Ubuntu 22.04, Debian 12, RHEL 9), or a host driver built "
                       "for an older glibc"});
    return out;
}

std::vector<findings::Finding> check_persistence(const gpu_vendors::nvidia::Host& host) {
    std::vector<findings::Finding> out;
    for (auto& d : host.devices)
        if (d.persistence == 0)
            out.push_back({"HOST-PERSISTENCE-OFF", findings::Severity::warn,
                           "GPU " + std::to_string(d.index) + " (" + d.name +
                               ") has persistence mode disabled: the driver tears the GPU down "
                               "when the last process exits, so every container start pays "
                               "GPU initialisation again",
                           "run nvidia-persistenced on the host (or nvidia-smi -pm 1 as root)"});
    return out;
}

std::vector<findings::Finding> check_image(const gpu_vendors::nvidia::Host& host,
                                           const ImageFacts& img,
                                           const gpu_vendors::nvidia::GpuRequest& req,
                                           const gpu_vendors::nvidia::Selection& sel) {
    std::vector<findings::Finding> out;
    auto here = oci::Platform::host();
    if (!img.platform.architecture.empty() && !here.accepts(img.platform))
        out.push_back(
            {"IMAGE-PLATFORM", findings::Severity::fail,
             img.ref + " is built for " + img.platform.str() + ", this host is " + here.str(),
             "use an image for " + here.str()});
    auto cudas = image_cuda_versions(img);
    std::optional<std::string> cuda;
    if (!cudas.empty()) cuda = cudas.front().version;
    for (auto& ev : cudas) {
        if (!host.has_driver()) break;
        auto cv = CudaVersion::parse(ev.version);
        auto dv = DriverVersion::parse(host.driver_version);
        if (!cv || !dv) continue;
        auto c = check_driver(*cv, *dv);
        findings::Severity s = c.status == DriverStatus::too_old ? findings::Severity::fail
                               : c.status == DriverStatus::ok_minor_version_compat
                                   ? findings::Severity::warn
                               : c.status == DriverStatus::ok ? findings::Severity::pass
                                                              : findings::Severity::warn;
        std::string fix;
        if (s == findings::Severity::fail) {
            fix = "upgrade the host driver to " +
                  (c.minimum ? c.minimum->text : std::string("a newer branch")) +
                  " or newer, or use an image built for an older CUDA";
            if (!c.caveats.empty()) fix += " (" + c.caveats.front() + ")";
        } else if (s == findings::Severity::warn && !c.caveats.empty()) {
            fix = c.caveats.front();
        }
        out.push_back({s == findings::Severity::fail   ? "CUDA-DRIVER-TOO-OLD"
                       : s == findings::Severity::warn ? "CUDA-MINOR-VERSION-COMPAT"
                                                       : "CUDA-DRIVER",
                       s, img.ref + " (" + ev.source + "): " + c.message, fix, cv->encoded()});
    }
    if (req.inject && !req.caps.count(gpu_vendors::nvidia::Capability::compute) && cuda)
        out.push_back({"CAPS-NO-COMPUTE", findings::Severity::warn,
                       "NVIDIA_DRIVER_CAPABILITIES lacks compute for a CUDA image: libcuda will "
                       "not be injected",
                       "set NVIDIA_DRIVER_CAPABILITIES=compute,utility"});
    if (req.inject && host.has_driver() && host.cuda_version > 0) { // unknown on old Jetsons
        RequireHost rh{host.cuda_version, host.driver_version, {}};
        for (auto* d : sel.gpus)
            rh.gpus.push_back({d->index, d->cc_major, d->cc_minor, d->brand, d->name});
        auto r = check_requirements(env_map(img.env), rh);
        for (auto& f : r.failures)
            out.push_back({"REQUIRE-UNSATISFIED",
                           r.disabled ? findings::Severity::warn : findings::Severity::fail,
                           f.message,
                           "use a newer driver or an older image; NVIDIA_DISABLE_REQUIRE=true "
                           "skips the check"});
        for (auto* d : sel.gpus)
            if (d->mig_enabled && sel.whole_gpu_requested)
                out.push_back({"MIG-WHOLE-GPU", findings::Severity::warn,
                               "GPU " + std::to_string(d->index) +
                                   " has MIG enabled but the whole GPU was requested: "
                                   "CUDA sees only the MIG instances also given",
                               "request MIG devices (e.g. --gpus device=" +
                                   std::to_string(d->index) + ":0) or disable MIG on that GPU"});
    }
    if (auto torch = parse_torch_version(img.torch_version_py); torch && req.inject)
        check_torch(out, host, img, *torch);
    check_lib_cuda(out, img, cudas);
    if (auto summary = components(img, cudas); !summary.empty())
        out.push_back({"IMAGE-COMPONENTS", findings::Severity::info, img.ref + ": " + summary, ""});
    if (!req.inject && cuda)
        out.push_back({"NO-GPU-REQUESTED", findings::Severity::info,
                       img.ref + " is a CUDA image but no GPU was requested",
                       "add --gpus all (or set NVIDIA_VISIBLE_DEVICES)"});
    return out;
}

std::vector<findings::Finding> check_kernels(const gpu_vendors::nvidia::Host& host,
                                             const gpu_vendors::nvidia::Selection& sel,
                                             const std::vector<ImageBinary>& binaries) {
    std::vector<findings::Finding> out;
    std::set<std::pair<int, int>> ccs;
    for (auto* d : sel.gpus)
        if (d->cc_major) ccs.insert({d->cc_major, d->cc_minor});
    if (ccs.empty() || binaries.empty()) return out;
    std::size_t ok_files = 0;
    for (auto& b : binaries) {
        bool all_ok = true;
        for (auto [ma, mi] : ccs) {
            auto k = can_run(b.kernels, ma, mi, host.cuda_version);
            if (k.ok) continue;
            all_ok = false;
            std::string archs;
            for (auto& e : b.kernels)
                if (archs.find(e.arch_name()) == std::string::npos)
                    archs += (archs.empty() ? "" : ", ") + e.arch_name();
            out.push_back(
                {k.ptx_too_new ? "KERNEL-PTX-TOO-NEW" : "KERNEL-NO-IMAGE", findings::Severity::fail,
                 "/" + b.path + " has no kernels for compute capability " + std::to_string(ma) +
                     "." + std::to_string(mi) + " (it has " + archs + "): " + k.reason,
                 k.ptx_too_new
                     ? "upgrade the driver to one that can JIT this PTX, or rebuild with SASS "
                       "for sm_" +
                           std::to_string(ma) + std::to_string(mi)
                     : "rebuild with -gencode arch=compute_" + std::to_string(ma) +
                           std::to_string(mi) + ",code=sm_" + std::to_string(ma) +
                           std::to_string(mi) + " (or ship PTX), or use a build for this GPU"});
        }
        if (all_ok) ++ok_files;
    }
    if (ok_files)
        out.push_back({"KERNELS", findings::Severity::pass,
                       std::to_string(ok_files) +
                           " file(s) with GPU code have kernels for the selected GPU(s)",
                       ""});
    return out;
}

} // namespace gantry::gpu_vendors::nvidia
