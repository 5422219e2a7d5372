#include "compat/doctor.hpp"

#include "compat/kernels.hpp"
#include "compat/require.hpp"
#include "compat/version.hpp"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <unistd.h>

namespace gantry::compat {

const char* to_string(Severity s) {
    switch (s) {
    case Severity::fail:
        return "fail";
    case Severity::warn:
        return "warn";
    case Severity::info:
        return "info";
    default:
        return "pass";
    }
}

Severity worst(const std::vector<Finding>& f) {
    Severity w = Severity::pass;
    for (auto& x : f) w = std::max(w, x.severity);
    return w;
}

namespace {
std::string env_get(const std::vector<std::string>& env, const std::string& key) {
    std::string v;
    for (auto& e : env)
        if (e.compare(0, key.size() + 1, key + "=") == 0) v = e.substr(key.size() + 1);
    return v;
}

void node(std::vector<Finding>& out, const gpu::DeviceNode& n, const std::string& id,
          const std::string& what, Severity missing) {
    if (!n.present) {
        out.push_back({id, missing, what + " " + n.host_path + " does not exist",
                       "load the NVIDIA kernel modules (nvidia-modprobe, or nvidia-smi as root) or "
                       "point --dev-root at the directory holding dev/nvidia*"});
    } else if (::access(n.host_path.c_str(), R_OK | W_OK) != 0) {
        out.push_back(
            {id + "-ACCESS", Severity::fail,
             what + " " + n.host_path + " is not readable and writable by you",
             "ask the administrator for access (mode 0666 or your group on /dev/nvidia*)"});
    }
}
} // namespace

std::vector<Finding> check_host(const gpu::Host& host) {
    std::vector<Finding> out;
    if (!host.has_driver()) {
        out.push_back({"HOST-NO-DRIVER", Severity::fail,
                       "no NVIDIA driver under driver root " + host.driver_root +
                           (host.notes.empty() ? "" : " (" + host.notes.front() + ")"),
                       "install the NVIDIA driver, or point --driver-root at it"});
        return out;
    }
    out.push_back({"HOST-DRIVER", Severity::pass,
                   "driver " + host.driver_version + " serves CUDA up to " +
                       std::to_string(host.cuda_version / 1000) + "." +
                       std::to_string(host.cuda_version % 1000 / 10),
                   ""});
    if (!host.nvml_loaded)
        out.push_back(
            {"HOST-NVML", Severity::warn,
             "NVML (libnvidia-ml.so.1) could not be used: GPU models, compute capabilities "
             "and MIG are unknown",
             "check the driver installation under " + host.driver_root});
    if (host.devices.empty())
        out.push_back(
            {"HOST-NO-GPU", Severity::fail, "the driver reports no GPU",
             "check `nvidia-smi` on the host; a GPU may be excluded or fallen off the bus"});
    node(out, host.ctl, "HOST-NODE-CTL", "the control device", Severity::fail);
    node(out, host.uvm, "HOST-NODE-UVM", "nvidia-uvm (needed by CUDA)", Severity::warn);
    for (auto& d : host.devices) {
        node(out, d.node, "HOST-NODE-GPU", "GPU " + std::to_string(d.index) + "'s device",
             Severity::fail);
        std::string cc =
            d.cc_major ? std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor) : "unknown";
        out.push_back({"HOST-GPU", Severity::info,
                       "GPU " + std::to_string(d.index) + ": " + d.name + " (" + d.uuid +
                           "), compute capability " + cc +
                           (d.mig_enabled ? ", MIG enabled with " + std::to_string(d.migs.size()) +
                                                " instance(s)"
                                          : ""),
                       ""});
    }
    return out;
}

std::optional<std::string> image_cuda_version(const ImageFacts& img) {
    std::string v = env_get(img.env, "CUDA_VERSION");
    if (!v.empty()) return v;
    if (!img.cuda_version_json.empty()) {
        auto j = nlohmann::json::parse(img.cuda_version_json, nullptr, false);
        if (j.is_object() && j.contains("cuda") && j["cuda"].is_object() &&
            j["cuda"].contains("version") && j["cuda"]["version"].is_string())
            return j["cuda"]["version"].get<std::string>();
    }
    return std::nullopt;
}

std::optional<TorchInfo> parse_torch_version(const std::string& py) {
    // __version__ = '2.4.0+cu121' and cuda: Optional[str] = '12.1' (or = None)
    auto value_of = [&](const std::string& key) -> std::optional<std::string> {
        size_t at = 0;
        while ((at = py.find(key, at)) != std::string::npos) {
            bool line_start = at == 0 || py[at - 1] == '\n';
            size_t eq = py.find('=', at);
            size_t nl = py.find('\n', at);
            if (line_start && eq != std::string::npos && eq < nl) {
                std::string v =
                    py.substr(eq + 1, nl == std::string::npos ? std::string::npos : nl - eq - 1);
                size_t a = v.find_first_of("'\""), b = v.find_last_of("'\"");
                if (a != std::string::npos && b > a) return v.substr(a + 1, b - a - 1);
                return std::string(); // None
            }
            at += key.size();
        }
        return std::nullopt;
    };
    auto v = value_of("__version__");
    if (!v || v->empty()) return std::nullopt;
    TorchInfo t;
    t.version = *v;
    t.cuda = value_of("cuda").value_or("");
    return t;
}

std::vector<Finding> check_image(const gpu::Host& host, const ImageFacts& img,
                                 const gpu::Request& req, const gpu::Selection& sel) {
    std::vector<Finding> out;
    auto here = oci::Platform::host();
    if (!img.platform.architecture.empty() && !here.accepts(img.platform))
        out.push_back(
            {"IMAGE-PLATFORM", Severity::fail,
             img.ref + " is built for " + img.platform.str() + ", this host is " + here.str(),
             "use an image for " + here.str()});
    auto cuda = image_cuda_version(img);
    if (cuda && host.has_driver()) {
        auto c = check_driver(*cuda, host.driver_version);
        Severity s = c.status == DriverStatus::too_old                   ? Severity::fail
                     : c.status == DriverStatus::ok_minor_version_compat ? Severity::warn
                     : c.status == DriverStatus::ok                      ? Severity::pass
                                                                         : Severity::warn;
        out.push_back({s == Severity::fail   ? "CUDA-DRIVER-TOO-OLD"
                       : s == Severity::warn ? "CUDA-MINOR-VERSION-COMPAT"
                                             : "CUDA-DRIVER",
                       s, img.ref + ": CUDA " + *cuda + ": " + c.message,
                       s == Severity::fail
                           ? "upgrade the host driver to " +
                                 (c.minimum ? c.minimum->text : std::string("a newer branch")) +
                                 " or newer, or use an image built for an older CUDA"
                       : s == Severity::warn && !c.caveats.empty() ? c.caveats.front()
                                                                   : ""});
    }
    if (req.inject && !req.caps.count(gpu::Capability::compute) && cuda)
        out.push_back({"CAPS-NO-COMPUTE", Severity::warn,
                       "NVIDIA_DRIVER_CAPABILITIES lacks compute for a CUDA image: libcuda will "
                       "not be injected",
                       "set NVIDIA_DRIVER_CAPABILITIES=compute,utility"});
    if (req.inject && host.has_driver()) {
        RequireHost rh{host.cuda_version, host.driver_version, {}};
        for (auto* d : sel.gpus)
            rh.gpus.push_back({d->index, d->cc_major, d->cc_minor, d->brand, d->name});
        auto r = check_requirements(env_map(img.env), rh);
        for (auto& f : r.failures)
            out.push_back({"REQUIRE-UNSATISFIED", r.disabled ? Severity::warn : Severity::fail,
                           f.message,
                           "use a newer driver or an older image; NVIDIA_DISABLE_REQUIRE=true "
                           "skips the check"});
        for (auto* d : sel.gpus)
            if (d->mig_enabled && sel.whole_gpu_requested)
                out.push_back({"MIG-WHOLE-GPU", Severity::warn,
                               "GPU " + std::to_string(d->index) +
                                   " has MIG enabled but the whole GPU was requested: "
                                   "CUDA sees only the MIG instances also given",
                               "request MIG devices (e.g. --gpus device=" +
                                   std::to_string(d->index) + ":0) or disable MIG on that GPU"});
    }
    if (auto torch = parse_torch_version(img.torch_version_py); torch && req.inject) {
        auto has = [&](const char* prefix) {
            return std::any_of(img.lib_names.begin(), img.lib_names.end(),
                               [&](const std::string& n) { return n.rfind(prefix, 0) == 0; });
        };
        std::string where = " (" + img.torch_path + ")";
        if (torch->cuda.empty()) {
            out.push_back({"TORCH-CPU-ONLY", Severity::warn,
                           "PyTorch " + torch->version + where +
                               " is a CPU-only build: torch.cuda.is_available() will be False",
                           "install a CUDA build, e.g. pip install torch --index-url "
                           "https://download.pytorch.org/whl/cu126"});
        } else {
            if (host.has_driver()) {
                auto c = check_driver(torch->cuda, host.driver_version);
                if (c.status == DriverStatus::too_old)
                    out.push_back(
                        {"TORCH-CUDA-TOO-NEW", Severity::fail,
                         "PyTorch " + torch->version + where + " is built for CUDA " + torch->cuda +
                             ": " + c.message,
                         "upgrade the driver to " +
                             (c.minimum ? c.minimum->text : std::string("a newer branch")) +
                             " or newer, or install a torch build for an older CUDA"});
            }
            int tmajor = std::atoi(torch->cuda.c_str());
            for (auto& n : img.lib_names)
                if (n.rfind("libcudart.so.", 0) == 0) {
                    int m = std::atoi(n.c_str() + 13);
                    if (m && tmajor && m != tmajor)
                        out.push_back({"TORCH-CUDA-MISMATCH", Severity::warn,
                                       "PyTorch " + torch->version + where + " is built for CUDA " +
                                           torch->cuda + " but the image ships " + n,
                                       "install a torch build matching the image's CUDA " +
                                           std::to_string(m) + ", or the nvidia-*-cu" +
                                           std::to_string(tmajor) + " wheels torch expects"});
                }
            if (!has("libcudnn.so") && !has("libcudnn_"))
                out.push_back({"CUDNN-MISSING", Severity::fail,
                               "PyTorch " + torch->version + where +
                                   " needs cuDNN but the image has no libcudnn",
                               "install the nvidia-cudnn wheel torch pins (pip install torch pulls "
                               "it), or use a "
                               "cudnn image flavour"});
            if (!has("libnccl.so"))
                out.push_back({"NCCL-MISSING", Severity::warn,
                               "PyTorch " + torch->version + where +
                                   " is a CUDA build but the image has no libnccl: distributed "
                                   "training fails",
                               "install the nvidia-nccl wheel torch pins"});
        }
    }
    if (!req.inject && cuda)
        out.push_back({"NO-GPU-REQUESTED", Severity::info,
                       img.ref + " is a CUDA image but no GPU was requested",
                       "add --gpus all (or set NVIDIA_VISIBLE_DEVICES)"});
    return out;
}

std::vector<Finding> check_kernels(const gpu::Host& host, const gpu::Selection& sel,
                                   const std::vector<ImageBinary>& binaries) {
    std::vector<Finding> out;
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
                {k.ptx_too_new ? "KERNEL-PTX-TOO-NEW" : "KERNEL-NO-IMAGE", Severity::fail,
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
        out.push_back({"KERNELS", Severity::pass,
                       std::to_string(ok_files) +
                           " file(s) with GPU code have kernels for the selected GPU(s)",
                       ""});
    return out;
}

} // namespace gantry::compat
