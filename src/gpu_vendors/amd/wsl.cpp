#include "gpu_vendors/amd/wsl.hpp"

#include "cdi/spec_read.hpp"
#include "gpu_vendors/amd/doctor.hpp"
#include "gpu_vendors/amd/request.hpp"
#include "gpu_vendors/device_nodes.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <unistd.h>

namespace gantry::gpu_vendors::amd {

namespace {

// Where the image's ROCm runtime looks for the bridge (librocdxg's README, §6).
constexpr const char* kDxcoreIn = "/usr/lib/libdxcore.so";
constexpr const char* kRocdxgIn = "/usr/lib/librocdxg.so";
constexpr const char* kDetection = "HSA_ENABLE_DXG_DETECTION";

const std::string& no_device_fix() {
    static const std::string fix =
        "use WSL2, not WSL1 (wsl --set-version DISTRO 2), with a current Windows AMD driver, or "
        "point --dev-root at the directory holding dev/dxg";
    return fix;
}

const std::string& no_rocdxg_fix() {
    static const std::string fix =
        "install ROCm 7.1 or newer with librocdxg in this WSL distribution (AMD's ROCm-on-WSL "
        "guide; /opt/rocm/lib/librocdxg.so), or point --driver-root at the root holding it";
    return fix;
}

} // namespace

void check_wsl(const WslHost& host) {
    if (!host.dxg.present)
        throw Error(Errc::run_failed, "WSL2 without its GPU device " + host.dxg.host_path,
                    no_device_fix());
    if (::access(host.dxg.host_path.c_str(), R_OK | W_OK) != 0)
        throw Error(Errc::run_failed,
                    "the WSL2 GPU device " + host.dxg.host_path +
                        " is not readable and writable by you",
                    "WSL creates it with mode 0666: chmod 0666 /dev/dxg as root");
    if (host.dxcore.empty())
        throw Error(Errc::run_failed,
                    "WSL2 without libdxcore.so in its lib share (/usr/lib/wsl/lib)",
                    "check that WSL mounts its lib share (wsl --update), or point --driver-root at "
                    "the root holding usr/lib/wsl");
    if (host.rocdxg.empty())
        throw Error(Errc::run_failed,
                    "WSL2 without ROCm's DXG bridge: no librocdxg.so on this host",
                    no_rocdxg_fix());
}

std::optional<findings::Finding>
rocm_on_wsl(const std::optional<gpu_vendors::amd::RocmRelease>& rocm) {
    if (!rocm) return std::nullopt;
    if (*rocm < kWslMinimumRocm)
        return findings::Finding{"ROCM-WSL-TOO-OLD", findings::Severity::fail,
                                 "the image's ROCm " + rocm->str() +
                                     " cannot use GPUs on WSL2: ROCm " + kWslMinimumRocm.str() +
                                     " is the first release whose runtime works with librocdxg",
                                 "use an image with ROCm " + kWslMinimumRocm.str() +
                                     " or newer (librocdxg 1.1 pairs with ROCm 7.2)"};
    return findings::Finding{"ROCM-WSL", findings::Severity::pass,
                             "the image's ROCm " + rocm->str() + " runs on WSL2 (" +
                                 kWslMinimumRocm.str() + " or newer, with librocdxg)",
                             ""};
}

std::optional<gpu_vendors::amd::RocmRelease> image_rocm_release(const rootfs::ImageFiles& files) {
    std::optional<gpu_vendors::amd::RocmRelease> best;
    for (const auto& name : files.list("opt"))
        if (auto r = gpu_vendors::amd::rocm_from_dir_name(name); r && (!best || *best < *r))
            best = r;
    if (best) return best;
    try {
        return gpu_vendors::amd::parse_rocm_version(files.read("opt/rocm/.info/version"));
    } catch (const Error&) { // a huge or unreadable file: the release is not known
        return std::nullopt;
    }
}

std::vector<findings::Finding>
wsl_findings(const WslHost& host, const std::optional<gpu_vendors::amd::RocmRelease>& image_rocm) {
    std::vector<findings::Finding> out;
    if (!host.dxg.present)
        out.push_back({"HOST-NODE-DXG", findings::Severity::fail,
                       "the WSL2 GPU device " + host.dxg.host_path + " does not exist",
                       no_device_fix()});
    else if (::access(host.dxg.host_path.c_str(), R_OK | W_OK) != 0)
        out.push_back(
            {"HOST-NODE-DXG-ACCESS", findings::Severity::fail,
             "the WSL2 GPU device " + host.dxg.host_path + " is not readable and writable by you",
             "WSL creates it with mode 0666: chmod 0666 /dev/dxg as root"});
    if (host.dxcore.empty())
        out.push_back({"HOST-WSL-DXCORE", findings::Severity::fail,
                       "WSL2 without libdxcore.so in its lib share (/usr/lib/wsl/lib)",
                       "check that WSL mounts its lib share (wsl --update)"});
    if (host.rocdxg.empty())
        out.push_back({"HOST-WSL-ROCDXG", findings::Severity::fail,
                       "WSL2 without ROCm's DXG bridge: no librocdxg.so on this host",
                       no_rocdxg_fix()});
    else
        out.push_back({"HOST-WSL", findings::Severity::info,
                       "WSL2: AMD GPUs through /dev/dxg and ROCm's DXG bridge " + host.rocdxg +
                           " (no /dev/kfd; every GPU or none; amd-smi, the profiler and the "
                           "debugger do not work there)",
                       ""});
    if (auto f = rocm_on_wsl(image_rocm)) out.push_back(std::move(*f));
    return out;
}

std::vector<findings::Finding> wsl_doctor(const WslHost& host, const DoctorContext& ctx) {
    std::optional<gpu_vendors::amd::RocmRelease> rocm;
    if (ctx.image) {
        auto facts = gather_image_facts(*ctx.store, *ctx.image, ctx.env, ctx.path_prefix);
        for (const auto& e : facts.rocm)
            if ((rocm = gpu_vendors::amd::parse_rocm_version(e.version))) break;
    }
    auto out = wsl_findings(host, rocm);
    if (ctx.image) {
        auto req = gpu_vendors::amd::parse_request(ctx.env, ctx.gpus);
        if (req.inject && !req.all && !req.devices.empty())
            out.push_back({"WSL-DEVICE-SELECTION", findings::Severity::warn,
                           req.source + " names AMD GPUs, but on WSL2 a container cannot get "
                                        "some GPUs and not others: it gets every GPU",
                           ""});
    }
    return out;
}

cdi::Spec generate_wsl_cdi(const WslHost& host) {
    if (!host.present())
        throw Error(Errc::not_found,
                    "no AMD GPU to describe on this WSL2 host (" +
                        std::string(host.dxg.present ? "no librocdxg.so" : "no /dev/dxg") + ")",
                    host.dxg.present ? no_rocdxg_fix() : no_device_fix());
    cdi::Spec spec;
    spec.kind = "amd.com/gpu";
    cdi::ContainerEdits e;
    cdi::DeviceNode d;
    d.path = host.dxg.path;
    if (host.dxg.host_path != host.dxg.path) d.host_path = host.dxg.host_path;
    e.device_nodes.push_back(d);
    const std::vector<std::string> ro{"ro", "nosuid", "nodev", "rbind", "rprivate"};
    if (!host.dxcore.empty()) e.mounts.push_back({host.dxcore, kDxcoreIn, ro, {}});
    e.mounts.push_back({host.rocdxg, kRocdxgIn, ro, {}});
    e.env.push_back(std::string(kDetection) + "=1");
    spec.devices.push_back({"all", {}, e});
    cdi::finish_generated(spec);
    return spec;
}

} // namespace gantry::gpu_vendors::amd
