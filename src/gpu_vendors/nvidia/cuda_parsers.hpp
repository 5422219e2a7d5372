// gpu_vendors/nvidia/cuda_parsers: the version marks CUDA's libraries leave in an image, read
// without running anything (reference cuda.md §4): the cuDNN, NCCL and TensorRT version headers,
// the CUDA release tags in package names and versions (cu12, +cuda13.0), and the CUDA release
// PyTorch's version.py says it was built for. The vendor-neutral parsers underneath (C header
// defines, wheel METADATA, versioned file names) are image_facts/image_facts.hpp's. Pure
// functions, no I/O; every input is untrusted image content.
#pragma once

#include <optional>
#include <string>

namespace gantry::gpu_vendors::nvidia {

// cudnn_version.h (CUDNN_MAJOR/MINOR/PATCHLEVEL) -> "9.1.0"
std::optional<std::string> parse_cudnn_version_h(const std::string& text);
// nccl.h (NCCL_MAJOR/MINOR/PATCH) -> "2.21.5"
std::optional<std::string> parse_nccl_h(const std::string& text);
// NvInferVersion.h (NV_TENSORRT_MAJOR/MINOR/PATCH, or the older NV_TENSORRT_SONAME_*) ->
// "10.13.2"
std::optional<std::string> parse_tensorrt_version_h(const std::string& text);

// The CUDA major a package was built for, from a name or version: "nvidia-cudnn-cu12" -> 12,
// "tensorrt-cu13-libs" -> 13, "10.13.2.6-1+cuda13.0" -> 13, "libcudnn9-cuda-12" -> 12; 0 if none.
int cuda_tag_major(const std::string& text);

// PyTorch's torch/version.py: its __version__ and the CUDA release it was built for.
struct TorchInfo {
    std::string version; // "2.4.0+cu121"
    std::string cuda;    // "12.1"; empty for CPU-only builds
};
std::optional<TorchInfo> parse_torch_version(const std::string& version_py);

} // namespace gantry::gpu_vendors::nvidia
