// image_facts/image_facts: the small parsers gantry doctor uses to read versions out of an image
// without running it (reference cuda.md §4): pip wheel METADATA (nvidia-cuda-runtime-cu12,
// nvidia-cudnn-cu12, nvidia-nccl-cu12, tensorrt, torch ...), cuDNN / NCCL / TensorRT headers,
// versioned library file names (libcudnn.so.9.1.0, libnvinfer.so.10.13.2), the dpkg status
// database and the CUDA tags in package names and versions. Pure functions, no I/O; every input
// is untrusted image content.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gantry::image_facts {

// A version of something found in an image, and where.
struct Evidence {
    std::string version; // "12.4.1", "9.1.0.70", "2.21.5"
    std::string source;  // "/usr/local/cuda/version.json", "env CUDA_VERSION", "pip nvidia-..."
    int cuda_major = 0; // the CUDA major a library was built for (cu12 wheel, +cuda13.0); 0 unknown
};

// One installed wheel, from site-packages/<name>-<version>.dist-info/METADATA.
struct PipPackage {
    std::string name;    // normalised (PEP 503): "nvidia-cudnn-cu12"
    std::string version; // "9.1.0.70"
    std::string path;    // "/usr/lib/python3/dist-packages/...dist-info/METADATA"
    std::vector<std::pair<std::string, std::string>> pins; // Requires-Dist name==version
};

// PEP 503 normalisation: lower case, runs of '-', '_' and '.' become one '-'.
std::string normalize_pip_name(const std::string& name);

// The Name, Version and exact (==) Requires-Dist pins of a METADATA file (RFC 822 headers up to
// the first blank line); nullopt without a Name and a Version.
std::optional<PipPackage> parse_pip_metadata(const std::string& text, const std::string& path);

// The value of `#define NAME <integer>` in a C header; nullopt when absent or not a number.
std::optional<long> header_define(const std::string& text, const std::string& name);
// cudnn_version.h (CUDNN_MAJOR/MINOR/PATCHLEVEL) -> "9.1.0"
std::optional<std::string> parse_cudnn_version_h(const std::string& text);
// nccl.h (NCCL_MAJOR/MINOR/PATCH) -> "2.21.5"
std::optional<std::string> parse_nccl_h(const std::string& text);
// NvInferVersion.h (NV_TENSORRT_MAJOR/MINOR/PATCH, or the older NV_TENSORRT_SONAME_*) ->
// "10.13.2"
std::optional<std::string> parse_tensorrt_version_h(const std::string& text);

// The version after `stem` in a library file name: ("libcudnn.so.9.1.0", "libcudnn.so.") ->
// "9.1.0"; digits and dots only, at least `min_components` of them; nullopt otherwise.
std::optional<std::string> file_name_version(const std::string& name, const std::string& stem,
                                             int min_components = 1);

// The CUDA major a package was built for, from a name or version: "nvidia-cudnn-cu12" -> 12,
// "tensorrt-cu13-libs" -> 13, "10.13.2.6-1+cuda13.0" -> 13, "libcudnn9-cuda-12" -> 12; 0 if none.
int cuda_tag_major(const std::string& text);

// The upstream version of an installed package in a dpkg status file ("2.31-0ubuntu9.16" for
// libc6 -> "2.31-0ubuntu9.16"); only stanzas whose Status ends in "installed".
std::optional<std::string> dpkg_package_version(const std::string& status, const std::string& pkg);

// "2.31-0ubuntu9.16" / "2.36-9+deb12u4" / "2.28" -> {2, 31}; nullopt when it does not start with
// two numeric components.
std::optional<std::pair<int, int>> major_minor(const std::string& version);

// PyTorch's torch/version.py: its __version__ and the CUDA release it was built for.
struct TorchInfo {
    std::string version; // "2.4.0+cu121"
    std::string cuda;    // "12.1"; empty for CPU-only builds
};
std::optional<TorchInfo> parse_torch_version(const std::string& version_py);

} // namespace gantry::image_facts
