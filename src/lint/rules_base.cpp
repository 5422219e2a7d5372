// Base image rules: GL001 devel base shipped (nvidia/cuda devel, rocm/dev-*, -complete), GL003
// untagged/latest, GL004 no digest.
#include "lint/rules.hpp"
#include "lint/rx.hpp"

namespace gantry::lint {

namespace {

bool is_gpu_repo(const std::string& name) {
    for (const char* k : {"cuda", "cudnn", "pytorch", "torch", "tensorflow", "nvidia", "tensorrt",
                          "triton", "jax", "paddle", "mxnet", "rocm"})
        if (name.find(k) != std::string::npos) return true;
    return false;
}

// AMD's development images (ROCm/ROCm-docker: dev/Dockerfile-<os>[-complete] install rocm-dev,
// and -complete adds rocm-libs; rocm-terminal/Dockerfile-* is FROM rocm/dev-<os>): every tag of
// rocm/dev-<os> (6.1, 6.1.2-complete, latest) and of rocm/rocm-terminal is a devel image. Any
// other ROCm repository is one when its tag says -complete or devel. rocm/pytorch and rocm/jax
// tags (rocm6.1_ubuntu22.04_py3.10_pytorch_2.1.2) carry no variant, and AMD publishes no
// runtime variant to point to, so they are left alone unless the tag says devel.
bool is_rocm_devel(const BaseImage& b) {
    static const Rx complete(R"((^|[-_.])complete([-_.]|$))", RxCase::insensitive);
    if (b.name.starts_with("rocm/dev-") || b.name == "rocm/rocm-terminal") return true;
    return b.name.find("rocm") != std::string::npos && rx_search(b.tag, complete);
}

bool is_devel(const BaseImage& b) {
    static const Rx devel(R"((^|[-_.])devel([-_.]|$))", RxCase::insensitive);
    if (!b.known || b.stage_ref >= 0 || b.scratch) return false;
    return (is_gpu_repo(b.name) && rx_search(b.tag, devel)) || is_rocm_devel(b);
}

// The plain OS image under an AMD dev image: rocm/dev-ubuntu-22.04 -> ubuntu:22.04.
std::string rocm_os_base(const BaseImage& b) {
    static const Rx os(R"(^rocm/dev-([a-z]+)-([0-9][0-9.]*)$)");
    RxMatch m;
    if (rx_match(b.name, m, os)) return m[1].str() + ":" + m[2].str();
    return "<your OS image>";
}

std::string runtime_tag(const BaseImage& b) {
    static const Rx tf(R"(-devel(-gpu)?)");
    static const Rx devel(R"(devel)");
    if (b.name.find("tensorflow") != std::string::npos) return rx_replace(b.tag, tf, "\\1");
    return rx_replace(b.tag, devel, "runtime");
}

std::string shown(const BaseImage& b) {
    std::string s = b.resolved;
    if (b.written != b.resolved) s += " (from " + b.written + ")";
    return s;
}

} // namespace

void rules_base(const RuleContext& cx) {
    const auto& stages = cx.build.stages;
    // GL001: the external base at the bottom of the shipped chain
    auto chain = cx.build.chain();
    const Stage& bottom = stages[chain.back()];
    if (is_devel(bottom.base)) {
        const Stage& target = stages[cx.build.target];
        std::string via = chain.size() > 1 ? " (through FROM " + target.from->args + ")" : "";
        std::string repo = bottom.base.resolved.substr(0, bottom.base.resolved.rfind(':'));
        if (is_rocm_devel(bottom.base))
            cx.add("GL001", bottom, nullptr,
                   "the shipped stage " + target.label() + " is built on " + shown(bottom.base) +
                       via +
                       ", a ROCm development image: the compilers (/opt/rocm/llvm, hipcc), "
                       "headers and static ROCm libraries (several GB) end up in the final "
                       "image",
                   "build in a stage FROM " + bottom.base.resolved +
                       " AS build and COPY --from=build only the artifacts into a stage FROM " +
                       rocm_os_base(bottom.base) +
                       " that installs only the run-time packages (apt-get install "
                       "--no-install-recommends rocm-hip-runtime, plus the libraries the app "
                       "links); AMD publishes no runtime tag of its dev images");
        else
            cx.add("GL001", bottom, nullptr,
                   "the shipped stage " + target.label() + " is built on " + shown(bottom.base) +
                       via +
                       ", a devel image: the compilers, headers and static CUDA libraries "
                       "(several GB) end up in the final image",
                   "build in a devel stage and COPY --from=<that stage> only the artifacts into a "
                   "stage FROM " +
                       repo + ":" + runtime_tag(bottom.base));
    }
    for (const auto& st : stages) {
        const auto& b = st.base;
        if (!b.known || b.stage_ref >= 0 || b.scratch) continue;
        if (b.digest.empty() && (b.tag.empty() || b.tag == "latest")) {
            cx.add("GL003", st, nullptr,
                   "base image " + shown(b) +
                       (b.tag.empty() ? " has no tag, so it means :latest"
                                      : " uses the moving tag latest") +
                       ": every build may get a different OS, " + gpu_stack(cx.build, st.index) +
                       " and driver requirement",
                   "pin a version tag (FROM " + b.name + ":<version>) or a digest (@sha256:...)");
        } else if (b.digest.empty()) {
            cx.add("GL004", st, nullptr,
                   "base image " + shown(b) + " is pinned by tag only; the tag can be re-pushed",
                   "append the digest: FROM " + b.resolved +
                       "@sha256:<digest> (skopeo inspect docker://" + b.resolved + " prints it)");
        }
    }
}

} // namespace gantry::lint
