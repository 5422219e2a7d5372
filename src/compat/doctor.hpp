// gantry doctor's rules: facts about the host (gpu::Host) and an image (its config and a few
// files, gathered as compat/doctor_facts.hpp says) in, findings out. Each finding has a stable ID,
// a severity, one sentence naming the thing, and the fix. Nothing from the image is executed.
#pragma once

#include "compat/doctor_facts.hpp"
#include "compat/fatbin.hpp"
#include "gpu/host.hpp"
#include "gpu/request.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gantry::compat {

enum class Severity { pass, info, warn, fail };
const char* to_string(Severity s);

struct Finding {
    std::string id; // stable, e.g. "HOST-NO-DRIVER", "CUDA-DRIVER-TOO-OLD"
    Severity severity = Severity::pass;
    std::string message;
    std::string fix;
    int cuda = 0; // the CUDA version (CudaVersion::encoded) a driver rule was about; 0: none
};

// The GLIBC_x.y a host driver library needs (from its .gnu.version_r).
struct GlibcNeed {
    std::string path;          // host path of the library
    std::pair<int, int> glibc; // highest GLIBC_x.y it needs, {0, 0}: none
};
// GLIBC-TOO-OLD: the driver libraries gantry injects need a newer glibc than the image has.
std::vector<Finding> check_glibc(const ImageFacts& img, const std::vector<GlibcNeed>& needs);

// HOST-PERSISTENCE-OFF for GPUs whose persistence mode NVML reports disabled.
std::vector<Finding> check_persistence(const gpu::Host& host);

std::vector<Finding> check_host(const gpu::Host& host);
// sel: the GPUs the container would get (from the request).
std::vector<Finding> check_image(const gpu::Host& host, const ImageFacts& img,
                                 const gpu::Request& req, const gpu::Selection& sel);

// GPU code of one file of the image: its path in the image and the fatbin entries with kernels.
struct ImageBinary {
    std::string path;
    std::vector<FatbinEntry> kernels;
};
// For every binary with GPU code and every selected GPU's compute capability: SASS for the GPU or
// PTX the driver can JIT; a fail naming the file, the arches it has and the GPU otherwise.
std::vector<Finding> check_kernels(const gpu::Host& host, const gpu::Selection& sel,
                                   const std::vector<ImageBinary>& binaries);

// The worst severity among the findings.
Severity worst(const std::vector<Finding>& f);

} // namespace gantry::compat
