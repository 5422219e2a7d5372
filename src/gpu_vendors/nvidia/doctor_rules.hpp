// gpu_vendors/nvidia/doctor_rules: gantry doctor's NVIDIA rules. Facts about the host
// (gpu_vendors::nvidia::Host) and an image (its config and a few files, gathered as
// gpu_vendors/nvidia/cuda_facts.hpp says) in, findings (findings/finding.hpp) out. Nothing from the
// image is executed.
#pragma once

#include "findings/finding.hpp"
#include "gpu_vendors/nvidia/cuda_facts.hpp"
#include "gpu_vendors/nvidia/fatbin.hpp"
#include "gpu_vendors/nvidia/host.hpp"
#include "gpu_vendors/nvidia/request.hpp"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

// The GLIBC_x.y a host driver library needs (from its .gnu.version_r).
struct GlibcNeed {
    std::string path;          // host path of the library
    std::pair<int, int> glibc; // highest GLIBC_x.y it needs, {0, 0}: none
};
// GLIBC-TOO-OLD: the driver libraries gantry injects need a newer glibc than the image has.
std::vector<findings::Finding> check_glibc(const ImageFacts& img,
                                           const std::vector<GlibcNeed>& needs);

// The shared objects a host driver library names (DT_NEEDED).
struct DriverLibNeeds {
    std::string path;                // host path of the library
    std::vector<std::string> needed; // libc.so.6, libpthread.so.0, ...
};
// DRIVER-LIB-NEEDS-MISSING (warn): an image with glibc lacks a shared object an injected driver
// library names (glibc 2.34+ programs no longer name libpthread.so.0, libdl.so.2 or librt.so.1,
// so an image staged from a program's ldd output misses them; libcuda and nvidia-smi fail to
// load). DRIVER-NO-GLIBC (warn): an image with GPU code (HAS_GPU_CODE) but no libc.so.6 (musl,
// static): the driver's libraries cannot load in it. IMAGE_LIBS: the names in the image's library
// directories; INJECTED: the names gantry adds beside them.
std::vector<findings::Finding> check_driver_needs(const std::string& ref,
                                                  const std::set<std::string>& image_libs,
                                                  const std::set<std::string>& injected,
                                                  const std::vector<DriverLibNeeds>& needs,
                                                  bool has_gpu_code);

// HOST-PERSISTENCE-OFF for GPUs whose persistence mode NVML reports disabled.
std::vector<findings::Finding> check_persistence(const gpu_vendors::nvidia::Host& host);

std::vector<findings::Finding> check_host(const gpu_vendors::nvidia::Host& host);
// sel: the GPUs the container would get (from the request).
std::vector<findings::Finding> check_image(const gpu_vendors::nvidia::Host& host,
                                           const ImageFacts& img,
                                           const gpu_vendors::nvidia::GpuRequest& req,
                                           const gpu_vendors::nvidia::Selection& sel);

// GPU code of one file of the image: its path in the image and the fatbin entries with kernels.
struct ImageBinary {
    std::string path;
    std::vector<nvidia::FatbinEntry> kernels;
};
// For every binary with GPU code and every selected GPU's compute capability: SASS for the GPU or
// PTX the driver can JIT; a fail naming the file, the arches it has and the GPU otherwise.
std::vector<findings::Finding> check_kernels(const gpu_vendors::nvidia::Host& host,
                                             const gpu_vendors::nvidia::Selection& sel,
                                             const std::vector<ImageBinary>& binaries);

} // namespace gantry::gpu_vendors::nvidia
