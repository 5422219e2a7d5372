// gpu_vendors/amd/wsl: AMD GPUs under WSL2, through ROCm's DXG bridge (librocdxg; reference
// wsl-and-build-gpus.md §2). There is no /dev/kfd there: the container gets /dev/dxg (WSL makes
// it 0666), the lib share's libdxcore.so and the host's librocdxg.so at /usr/lib/ (where the
// image's ROCm runtime loads them), and HSA_ENABLE_DXG_DETECTION=1 (what ROCm before it detects
// DXG by itself needs; harmless after). Every GPU or none: WSL2 cannot give a container some GPUs
// and not others. The image's ROCm must be 7.1 or newer (the runtime feature librocdxg needs).
#pragma once

#include "cdi/spec_model.hpp"
#include "findings/finding.hpp"
#include "gpu_host/device_node.hpp"
#include "gpu_vendors/amd/rocm.hpp"
#include "gpu_vendors/backend.hpp"
#include "oci/runtime_spec.hpp"
#include "rootfs/image_files.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::amd {

struct WslHost {
    gpu_host::DeviceNode dxg; // DEVROOT/dev/dxg
    std::string dxcore;       // host path of DRIVERROOT/usr/lib/wsl/lib/libdxcore.so ("": none)
    std::string rocdxg;       // host path of the host's librocdxg.so ("": none)
    // A WSL2 host with ROCm's bridge: the device and librocdxg.
    bool present() const { return dxg.present && !rocdxg.empty(); }
};

// A few stats under the roots: /dev/dxg (dev root), libdxcore.so and librocdxg.so (driver root:
// /opt/rocm/lib, /opt/rocm-*/lib, /usr/lib/x86_64-linux-gnu, /usr/local/lib; their links resolved
// inside the driver root, the host paths the real files). Never throws. (wsl_host.cpp)
WslHost discover_wsl(const Roots& roots);

// The oldest ROCm release that runs on WSL2 (librocdxg's runtime feature).
constexpr gpu_vendors::amd::RocmRelease kWslMinimumRocm{7, 1};

// gantry run's checks before any namespace exists: Error(run_failed) naming what is missing or
// not openable, with the fix.
void check_wsl(const WslHost& host);

// Host rules on WSL2 (the device, libdxcore, librocdxg), and with IMAGE_ROCM (the image's ROCm
// release, when known) whether it supports WSL2.
std::vector<findings::Finding>
wsl_findings(const WslHost& host, const std::optional<gpu_vendors::amd::RocmRelease>& image_rocm);

// ROCM-WSL-TOO-OLD (fail) or ROCM-WSL (pass) for the image's ROCm release; nothing when unknown.
std::optional<findings::Finding>
rocm_on_wsl(const std::optional<gpu_vendors::amd::RocmRelease>& rocm);

// The image's ROCm release from its files, cheaply (run's path): the newest /opt/rocm-X.Y.Z,
// else /opt/rocm/.info/version; nullopt when neither tells.
std::optional<gpu_vendors::amd::RocmRelease> image_rocm_release(const rootfs::ImageFiles& files);

// `gantry doctor` on WSL2: wsl_findings with the image's ROCm (one walk of the image), and a
// warning when the request names particular GPUs.
std::vector<findings::Finding> wsl_doctor(const WslHost& host, const DoctorContext& ctx);

// The description on WSL2 (what `gantry cdi generate` writes and every door applies): the one
// device "all" with /dev/dxg, the two libraries and HSA_ENABLE_DXG_DETECTION=1.
cdi::Spec generate_wsl_cdi(const WslHost& host);

} // namespace gantry::gpu_vendors::amd
