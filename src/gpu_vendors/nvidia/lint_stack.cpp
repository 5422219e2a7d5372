// CUDA as lint's rules that compare stacks see it (lint/stacks.hpp): NVIDIA's images
// (nvidia/cuda:12.1.0-devel-ubuntu22.04, and any tag naming cuda12.1 or cu121), the versioned
// packages of NVIDIA's CUDA repository, its SDK packages, PyTorch's CUDA wheels.
#include "gpu_vendors/nvidia/lint_rules.hpp"
#include "gpu_vendors/nvidia/torch_pypi.hpp"
#include "lint/rx.hpp"
#include "lint/stacks.hpp"

#include <algorithm>

namespace gantry::gpu_vendors::nvidia {

namespace {

using lint::Rx;
using lint::RxCase;
using lint::RxMatch;
using lint::Version;

std::optional<Version> cuda_pair_of(const RxMatch& m) {
    return lint::version_pair(m[1].str(), m[2].str());
}

// A base image's CUDA: nvidia/cuda's tags lead with it (12.1.0-devel-ubuntu22.04); other images
// name it in the tag (2.3.0-cuda12.1-cudnn8-runtime, ..._cu121_...).
std::optional<Version> cuda_tag_version(const std::string& repository, const std::string& tag) {
    static const Rx leading(R"(^(\d+)\.(\d+))");
    static const Rx embedded(R"((?:^|[-_.])cuda[-_]?(\d+)\.(\d+))");
    static const Rx short_form(R"((?:^|[-_.])cu(\d)(\d{1,2})(?:[-_.]|$))");
    RxMatch m;
    std::optional<Version> v;
    if (repository.ends_with("cuda") && lint::rx_search(tag, m, leading) && (v = cuda_pair_of(m)))
        return v;
    if (lint::rx_search(tag, m, embedded) && (v = cuda_pair_of(m))) return v;
    if (lint::rx_search(tag, m, short_form) && (v = cuda_pair_of(m))) return v;
    return std::nullopt;
}

// A package of NVIDIA's CUDA repository whose name carries the release -MAJOR-MINOR
// (cuda-toolkit-12-1, cuda-12-1, cuda-cudart-dev-12-1=12.1.105-1; cuda-keyring and cuda-drivers
// name none).
std::optional<Version> cuda_package_version(const std::string& p) {
    static const Rx cuda(R"(^cuda(?:-[a-z][a-z0-9]*)*-(\d{1,6})-(\d{1,6})(?:[=:].*)?$)");
    RxMatch m;
    if (!lint::rx_match(p, m, cuda)) return std::nullopt;
    return cuda_pair_of(m);
}

// The CUDA toolkit's compiler and development packages (NVIDIA's repository, Debian's
// nvidia-cuda-toolkit, conda's cudatoolkit-dev, pip's nvidia-cuda-nvcc-cu12), cuDNN's headers.
bool cuda_sdk_package(const std::string& pkg) {
    static const Rx re(
        R"(^(cuda|cuda-toolkit|cuda-nvcc|cuda-compiler|cuda-libraries-dev|cuda-cudart-dev|)"
        R"(cuda-minimal-build|cuda-command-line-tools|cudatoolkit-dev|nvidia-cuda-toolkit)"
        R"()(-\d+(-\d+)?)?$|^libcudnn\d*-dev(-cuda-\d+)?$|^nvidia-cuda-nvcc(-cu\d+)?$)");
    return lint::rx_match(pkg, re);
}

// "cu121" -> CUDA 12.1 (the last digit is the minor).
std::optional<Version> cuda_wheel_version(const std::string& tag) {
    static const Rx cu(R"(^cu(\d{2,4})$)", RxCase::insensitive);
    RxMatch m;
    if (!lint::rx_match(tag, m, cu)) return std::nullopt;
    auto n = lint::version_number(m[1].str());
    if (!n) return std::nullopt;
    return Version{*n / 10, *n % 10};
}

std::string cuda_tag_of(Version v) {
    return "cu" + std::to_string(v.first) + std::to_string(v.second);
}

// download.pytorch.org/whl/cu121 (and nightly/, test/) -> "cu121"
std::string cuda_index_build(const std::string& url) {
    static const Rx pytorch(R"(download\.pytorch\.org/whl/(?:nightly/|test/)?(cu\d{2,4})(?:/|$))");
    RxMatch m;
    if (lint::rx_search(url, m, pytorch)) return m[1];
    return "";
}

std::string cuda_install_build(Version v, bool same_stack) {
    std::string want = cuda_tag_of(v);
    return "install the " + want + " build (--index-url https://download.pytorch.org/whl/" + want +
           (same_stack ? ", torch==<version>+" + want : std::string()) + ")";
}

std::string cuda_two_releases(Version wheel, Version base) {
    return "the image carries two CUDA runtimes and needs a driver for CUDA " +
           lint::version_text(std::max(wheel, base));
}

std::optional<Version> cuda_pypi_torch(const std::string& version) {
    return torch_pypi_cuda(version);
}

} // namespace

const lint::Stack& lint_stack() {
    static const lint::Stack s{
        "CUDA",
        "NVIDIA",
        "CUDA_VERSION",
        cuda_tag_version,
        nullptr, // nvidia/cuda says its release in every tag
        {"cuda", "cudnn", "nvidia", "tensorrt"},
        nullptr, // a devel tag says it (nvidia/cuda:12.1.0-devel-ubuntu22.04)
        cuda_package_version,
        nullptr,
        cuda_sdk_package,
        nullptr,
        nullptr,
        R"(cu\d{2,4})",
        cuda_wheel_version,
        cuda_tag_of,
        cuda_index_build,
        cuda_install_build,
        "CPU-only torch build",
        cuda_two_releases,
        cuda_pypi_torch,
        "pytorch-cuda|cudatoolkit|cuda-version",
    };
    return s;
}

} // namespace gantry::gpu_vendors::nvidia
