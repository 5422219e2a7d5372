// gpu_vendors/nvidia/doctor_rules: gantry doctor's NVIDIA rules. Facts about the host
// (gpu_vendors::nvidia::Host) and an image (its config and a few files, gathered as
// compat/doctor_facts.hpp says) in, findings (compat/finding.hpp) out. Nothing from the image is
// executed.
#pragma once

#include "compat/doctor_facts.hpp"
#include "compat/fatbin.hpp"
#include "compat/finding.hpp"
#include "gpu_vendors/nvidia/host.hpp"
#include "gpu_vendors/nvidia/request.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

// The GLIBC_x.y a host driver library needs (from its .gnu.version_r).
struct GlibcNeed {
    std::string path;          // host path of the library
    std::pair<int, int> glibc; // highest GLIBC_x.y it needs, {0, 0}: none
};
// GLIBC-TOO-OLD: the driver libraries gantry injects need a newer glibc than the image has.
std::vector<compat::Finding> check_glibc(const compat::ImageFacts& img,
                                         const std::vector<GlibcNeed>& needs);

// HOST-PERSISTENCE-OFF for GPUs whose persistence mode NVML reports disabled.
std::vector<compat::Finding> check_persistence(const gpu_vendors::nvidia::Host& host);

std::vector<compat::Finding> check_host(const gpu_vendors::nvidia::Host& host);
// sel: the GPUs the container would get (from the request).
std::vector<compat::Finding> check_image(const gpu_vendors::nvidia::Host& host,
                                         const compat::ImageFacts& img,
                                         const gpu_vendors::nvidia::GpuRequest& req,
                                         const gpu_vendors::nvidia::Selection& sel);

// GPU code of one file of the image: its path in the image and the fatbin entries with kernels.
struct ImageBinary {
    std::string path;
    std::vector<compat::FatbinEntry> kernels;
};
// For every binary with GPU code and every selected GPU's compute capability: SASS for the GPU or
// PTX the driver can JIT; a fail naming the file, the arches it has and the GPU otherwise.
std::vector<compat::Finding> check_kernels(const gpu_vendors::nvidia::Host& host,
                                           const gpu_vendors::nvidia::Selection& sel,
                                           const std::vector<ImageBinary>& binaries);

} // namespace gantry::gpu_vendors::nvidia
