// gpu_vendors/nvidia/cuda_facts: what gantry doctor's NVIDIA rules know about an image's CUDA
// stack, and how it is gathered (was image_facts/doctor_facts: only these rules read it). A walk
// over the image's files calls add_file_facts for each (with the contents of the few files
// wants_contents names), then add_env_facts once; the versions the rules check are read from the
// result (the image's CUDA versions, its PyTorch build). The parsers underneath are
// cuda_parsers.hpp's (CUDA's own marks) and image_facts/image_facts.hpp's. Nothing from the image
// is executed; every input is untrusted image content.
#pragma once

#include "gpu_vendors/nvidia/cuda_parsers.hpp"
#include "image_facts/image_facts.hpp"
#include "oci/image.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

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
    // headers, versioned file names), in the order found.
    std::vector<image_facts::Evidence> cuda, cudnn, nccl, tensorrt;
    std::vector<image_facts::PipPackage> pip; // nvidia-*, torch, tensorrt* wheels
    std::string glibc;        // "2.36"; empty when the image has no (readable) glibc
    std::string glibc_source; // "/lib/x86_64-linux-gnu/libc.so.6", "/var/lib/dpkg/status"
    std::vector<std::string> glibc_defs; // GLIBC_x.y its libc.so.6 defines (empty: from dpkg)
};

// Adds what one image file says to the facts: path is relative to the image root
// ("usr/include/cudnn_version.h"), text its contents (only for the files wants_contents names).
bool wants_contents(const std::string& path);
void add_file_facts(ImageFacts& img, const std::string& path, const std::string& text);
// Adds the env-var evidence (NV_CUDNN_VERSION, NCCL_VERSION, NV_TENSORRT_VERSION ...) and
// sorts nothing: call once after the walk.
void add_env_facts(ImageFacts& img);

// The image's CUDA version: config env CUDA_VERSION, else version.json's cuda.version, else the
// first CUDA runtime found (wheel METADATA, libcudart.so.X.Y.Z).
std::optional<std::string> image_cuda_version(const ImageFacts& img);
// Every distinct CUDA major.minor of the image with where it was read, the config env first.
std::vector<image_facts::Evidence> image_cuda_versions(const ImageFacts& img);

} // namespace gantry::gpu_vendors::nvidia
