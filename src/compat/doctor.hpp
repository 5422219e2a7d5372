// gantry doctor's rules: facts about the host (gpu::Host) and an image (its config and a few
// files) in, findings out. Each finding has a stable ID, a severity, one sentence naming the
// thing, and the fix. Nothing from the image is executed.
#pragma once

#include "compat/fatbin.hpp"
#include "compat/image_facts.hpp"
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
    int cuda = 0; // the CUDA version (CudaVersion::encoded) a driver rule was about; 0: none
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
    // Versions found in the image beyond the config env and version.json: CUDA runtimes
    // (nvidia-cuda-runtime wheels, libcudart.so.X.Y.Z), cuDNN, NCCL and TensorRT (wheels,
    // headers, versioned file names), in the order found; see gather_* in image_facts.hpp.
    std::vector<Evidence> cuda, cudnn, nccl, tensorrt;
    std::vector<PipPackage> pip; // nvidia-*, torch, tensorrt* wheels
    std::string glibc;           // "2.36"; empty when the image has no (readable) glibc
    std::string glibc_source;    // "/lib/x86_64-linux-gnu/libc.so.6", "/var/lib/dpkg/status"
    std::vector<std::string> glibc_defs; // GLIBC_x.y its libc.so.6 defines (empty: from dpkg)
};

// Adds what one image file says to the facts: path is relative to the image root
// ("usr/include/cudnn_version.h"), text its contents (only for the files wants_contents names).
bool wants_contents(const std::string& path);
void add_file_facts(ImageFacts& img, const std::string& path, const std::string& text);
// Adds the env-var evidence (NV_CUDNN_VERSION, NCCL_VERSION, NV_TENSORRT_VERSION ...) and
// sorts nothing: call once after the walk.
void add_env_facts(ImageFacts& img);

struct TorchInfo {
    std::string version; // "2.4.0+cu121"
    std::string cuda;    // "12.1"; empty for CPU-only builds
};
std::optional<TorchInfo> parse_torch_version(const std::string& version_py);

// The image's CUDA version: config env CUDA_VERSION, else version.json's cuda.version, else the
// first CUDA runtime found (wheel METADATA, libcudart.so.X.Y.Z).
std::optional<std::string> image_cuda_version(const ImageFacts& img);
// Every distinct CUDA major.minor of the image with where it was read, the config env first.
std::vector<Evidence> image_cuda_versions(const ImageFacts& img);

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
