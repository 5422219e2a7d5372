// gantry doctor's rules: facts about the host (gpu::Host) and an image (its config and a few
// files) in, findings out. Each finding has a stable ID, a severity, one sentence naming the
// thing, and the fix. Nothing from the image is executed.
#pragma once

#include "compat/fatbin.hpp"
#include "gpu/host.hpp"
#include "gpu/request.hpp"
#include "oci/image.hpp"

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
};

struct ImageFacts {
    std::string ref;
    oci::Platform platform;
    std::vector<std::string> env;  // the container's environment (image Env + -e)
    std::string cuda_version_json; // /usr/local/cuda/version.json ("" if absent)
    std::string torch_version_py;  // .../site-packages/torch/version.py ("" if absent)
    std::string torch_path;        // where it was found, for messages
    // file names of CUDA libraries in the image (libcudart*, libcudnn*, libnccl*, libcublas*)
    std::vector<std::string> lib_names;
};

struct TorchInfo {
    std::string version; // "2.4.0+cu121"
    std::string cuda;    // "12.1"; empty for CPU-only builds
};
std::optional<TorchInfo> parse_torch_version(const std::string& version_py);

// The image's CUDA version: config env CUDA_VERSION, else version.json's cuda.version.
std::optional<std::string> image_cuda_version(const ImageFacts& img);

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
