// ROCm as lint's rules that compare stacks see it (lint/stacks.hpp): AMD's images and their tag
// forms, ROCm's versioned packages and AMD's repositories (repo.radeon.com), the SDK packages and
// amdgpu-install's use cases, PyTorch's and ROCm/jax's ROCm wheels.
#include "gpu_vendors/amd/lint_rules.hpp"
#include "lint/rx.hpp"
#include "lint/stacks.hpp"
#include "util/text.hpp"

namespace gantry::gpu_vendors::amd {

namespace {

using lint::Rx;
using lint::RxCase;
using lint::RxMatch;
using lint::Version;

std::optional<Version> rocm_pair_of(const RxMatch& m) {
    return lint::version_pair(m[1].str(), m[2].str());
}

// AMD's tag forms (ROCm/ROCm-docker build_all.sh and dev/Dockerfile-*; ROCm/jax release notes;
// rocm/pytorch's published tags): rocm/dev-<os>:<ROCm>[-complete], rocm/rocm-terminal:<ROCm>,
// rocm/pytorch:rocm<ROCm>_<os>_py<X>_pytorch_..., rocm/jax:rocm<ROCm>-jax<V>-py<X>; "rocmX.Y"
// in any tag.
std::optional<Version> rocm_tag_version(const std::string& n, const std::string& tag) {
    static const Rx leading(R"(^(\d+)\.(\d+))");
    static const Rx embedded(R"((?:^|[-_.])rocm[-_]?(\d+)\.(\d+))");
    RxMatch m;
    std::optional<Version> v;
    bool amd_devel = n.starts_with("rocm/dev-") || n == "rocm/rocm-terminal";
    if (amd_devel && lint::rx_search(tag, m, leading) && (v = rocm_pair_of(m))) return v;
    if (lint::rx_search(tag, m, embedded) && (v = rocm_pair_of(m))) return v;
    return std::nullopt;
}

// A ROCm repository whatever its tag (rocm/pytorch:latest): messages say ROCm, not CUDA.
bool rocm_repository(const std::string& n) {
    return n.find("rocm") != std::string::npos;
}

// AMD's development images (ROCm/ROCm-docker: dev/Dockerfile-<os>[-complete] install rocm-dev,
// and -complete adds rocm-libs; rocm-terminal/Dockerfile-* is FROM rocm/dev-<os>): every tag of
// rocm/dev-<os> (6.1, 6.1.2-complete, latest) and of rocm/rocm-terminal is a devel image. Any
// other ROCm repository is one when its tag says -complete or devel (the latter: any GPU
// image's devel tag). rocm/pytorch and rocm/jax tags (rocm6.1_ubuntu22.04_py3.10_pytorch_2.1.2)
// carry no variant, and AMD publishes no runtime variant to point to, so they are left alone
// unless the tag says devel.
bool is_rocm_devel(const lint::BaseImage& b) {
    static const Rx complete(R"((^|[-_.])complete([-_.]|$))", RxCase::insensitive);
    if (b.name.starts_with("rocm/dev-") || b.name == "rocm/rocm-terminal") return true;
    return b.name.find("rocm") != std::string::npos && lint::rx_search(b.tag, complete);
}

// The plain OS image under an AMD dev image: rocm/dev-ubuntu-22.04 -> ubuntu:22.04.
std::string rocm_os_base(const lint::BaseImage& b) {
    static const Rx os(R"(^rocm/dev-([a-z]+)-([0-9][0-9.]*)$)");
    RxMatch m;
    if (lint::rx_match(b.name, m, os)) return m[1].str() + ":" + m[2].str();
    return "<your OS image>";
}

std::optional<lint::DevelImage> rocm_devel_image(const lint::BaseImage& b) {
    if (!is_rocm_devel(b)) return std::nullopt;
    return lint::DevelImage{
        ", a ROCm development image: the compilers (/opt/rocm/llvm, hipcc), headers and static "
        "ROCm libraries (several GB) end up in the final image",
        "build in a stage FROM " + b.resolved +
            " AS build and COPY --from=build only the artifacts into a stage FROM " +
            rocm_os_base(b) +
            " that installs only the run-time packages (apt-get install "
            "--no-install-recommends rocm-hip-runtime, plus the libraries the app links); AMD "
            "publishes no runtime tag of its dev images"};
}

// ROCm's multi-version packages carry the release MAJOR.MINOR.PATCH (rocm-hip-sdk6.1.2,
// rocm6.1.0).
std::optional<Version> rocm_package_version(const std::string& p) {
    static const Rx rocm(R"(^rocm(?:-[a-z][a-z0-9-]*?)?(\d{1,6})\.(\d{1,6})\.\d{1,6}$)");
    RxMatch m;
    if (!lint::rx_match(p, m, rocm)) return std::nullopt;
    return rocm_pair_of(m);
}

// A repo.radeon.com path that names the ROCm release: amdgpu-install/6.1[.2]/...,
// rocm/apt/6.1[.2], rocm/rhel9/6.1, rocm/el8/6.0, rocm/zyp/6.1 (not rocm/apt/latest): an
// amdgpu-install package downloaded, or a repository line echoed into the sources.
std::optional<Version> radeon_url(const std::string& word) {
    static const Rx url(
        R"(repo\.radeon\.com/(?:amdgpu-install|rocm/(?:apt|rhel\d*|el\d*|centos\d*|zyp|sles\d*))/(\d{1,6})\.(\d{1,6})(?:\.\d{1,6})?(?:[/\s"']|$))");
    RxMatch m;
    if (!lint::rx_search(word, m, url)) return std::nullopt;
    return rocm_pair_of(m);
}

// ROCm's SDK meta packages (versioned forms append the release: rocm-hip-sdk6.1.2), the HIP
// compiler driver and HIP headers; not the run-time metas (rocm-hip-runtime,
// rocm-language-runtime, rocm-hip-libraries). Names: AMD's package-manager-integration page.
bool rocm_sdk_package(const std::string& pkg) {
    static const Rx rocm(
        R"(^(rocm|rocm-dev|rocm-hip-sdk|rocm-ml-sdk|rocm-opencl-sdk|rocm-openmp-sdk|)"
        R"(rocm-developer-tools|hipcc|hip-dev|hip-devel)(\d+(\.\d+)*)?$)");
    return lint::rx_match(pkg, rocm);
}

// amdgpu-install --usecase=rocm,hiplibsdk: the use cases that install the ROCm SDK (AMD's
// `amdgpu-install --list-usecase`: rocm, rocmdev, rocmdevtools and every *sdk). The default
// (graphics,opencl,hip) and the run-time ones (hip, lrt, opencl, mllib, dkms) are not.
std::vector<std::string> amdgpu_install_sdk(const lint::Command& c) {
    std::vector<std::string> out;
    if (c.name() != "amdgpu-install") return out;
    for (std::size_t i = 1; i < c.argv.size(); ++i) {
        std::string list;
        if (c.argv[i].starts_with("--usecase="))
            list = c.argv[i].substr(10);
        else if (c.argv[i] == "--usecase" && i + 1 < c.argv.size())
            list = c.argv[++i];
        for (auto& u : text::split(list, ',')) {
            std::string v(text::trim(u));
            if (v == "rocm" || v == "rocmdev" || v == "rocmdevtools" ||
                (v.ends_with("sdk") && v.size() > 3))
                out.push_back("amdgpu-install --usecase=" + v);
        }
    }
    return out;
}

// "rocm6.1" / "rocm6.2.4" (torch) -> ROCm 6.1 / 6.2, "rocm611" / "rocm550" (jaxlib, ROCm/jax's
// release wheels: one digit per component) -> ROCm 6.1 / 5.5.
std::optional<Version> rocm_wheel_version(const std::string& tag) {
    static const Rx rocm_dotted(R"(^rocm(\d+)\.(\d+)(?:\.\d+)?$)", RxCase::insensitive);
    static const Rx rocm_compact(R"(^rocm(\d)(\d)\d?$)", RxCase::insensitive);
    RxMatch m;
    if (lint::rx_match(tag, m, rocm_dotted) || lint::rx_match(tag, m, rocm_compact))
        return rocm_pair_of(m);
    return std::nullopt;
}

std::string rocm_tag_of(Version v) {
    return "rocm" + lint::version_text(v);
}

// download.pytorch.org/whl/rocm6.1 (and nightly/, test/) -> "rocm6.1", AMD's
// repo.radeon.com/rocm/manylinux/rocm-rel-6.3 -> "rocm6.3".
std::string rocm_index_build(const std::string& url) {
    static const Rx pytorch(
        R"(download\.pytorch\.org/whl/(?:nightly/|test/)?(rocm\d+\.\d+(?:\.\d+)?)(?:/|$))");
    static const Rx radeon(
        R"(repo\.radeon\.com/rocm/manylinux/rocm-rel-(\d+\.\d+(?:\.\d+)?)(?:/|$))");
    RxMatch m;
    if (lint::rx_search(url, m, pytorch)) return m[1];
    if (lint::rx_search(url, m, radeon)) return "rocm" + m[1].str();
    return "";
}

std::string rocm_install_build(Version v, bool) {
    std::string want = rocm_tag_of(v);
    return "install the " + want + " build (torch: --index-url " +
           "https://download.pytorch.org/whl/" + want + ", torch==<version>+" + want +
           "; jaxlib: the +rocm" + std::to_string(v.first) + std::to_string(v.second) +
           "x wheel of ROCm/jax)";
}

std::string rocm_two_releases(Version, Version) {
    return "the image carries two ROCm user spaces (or the wheel loads libraries of another ROCm "
           "release than it was built for)";
}

} // namespace

const lint::Stack& lint_stack() {
    static const lint::Stack s{
        "ROCm",
        "AMD",
        "ROCM_VERSION",
        rocm_tag_version,
        rocm_repository,
        {"rocm"},
        rocm_devel_image,
        rocm_package_version,
        radeon_url,
        rocm_sdk_package,
        amdgpu_install_sdk,
        "use a multi-stage build: compile in a builder stage (FROM rocm/dev-<os>:<ROCm> AS build) "
        "and COPY --from=build only the artifacts into a stage that installs only "
        "rocm-hip-runtime",
        R"(rocm[0-9.]{2,12})",
        rocm_wheel_version,
        rocm_tag_of,
        rocm_index_build,
        rocm_install_build,
        "CPU-only build",
        rocm_two_releases,
        nullptr, // PyPI's torch is a CUDA build
        "",
    };
    return s;
}

} // namespace gantry::gpu_vendors::amd
