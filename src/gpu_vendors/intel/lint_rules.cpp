#include "gpu_vendors/intel/lint_rules.hpp"

#include "lint/rules.hpp"

namespace gantry::gpu_vendors::intel {

namespace {

// Intel's toolkit images on Docker Hub (intel/oneapi-containers): basekit and hpckit carry the
// compilers; intel/oneapi-runtime, published with the same tags, carries what built code loads.
bool intel_toolkit_image(const lint::BaseImage& b) {
    return b.known && b.stage_ref < 0 && !b.scratch &&
           (b.name == "intel/oneapi-basekit" || b.name == "intel/oneapi-hpckit");
}

void intel_lint(const lint::RuleContext& cx) {
    const auto& stages = cx.build.stages;
    auto chain = cx.build.chain();
    const lint::Stage& bottom = stages[chain.back()];
    if (!intel_toolkit_image(bottom.base)) return;
    const lint::Stage& target = stages[cx.build.target];
    std::string via = chain.size() > 1 ? " (through FROM " + target.from->args + ")" : "";
    std::string shown = bottom.base.resolved;
    if (bottom.base.written != bottom.base.resolved) shown += " (from " + bottom.base.written + ")";
    std::string tag = bottom.base.tag.empty() ? "latest" : bottom.base.tag;
    cx.add("GL001", bottom, nullptr,
           "the shipped stage " + target.label() + " is built on " + shown + via +
               ", a oneAPI toolkit image: the DPC++/C++ and Fortran compilers, headers and "
               "static libraries (several GB) end up in the final image",
           "build in a stage FROM " + bottom.base.resolved +
               " AS build and COPY --from=build only the artifacts into a stage FROM "
               "intel/oneapi-runtime:" +
               tag + " (the oneAPI run-time libraries, without the compilers)");
}

} // namespace

const lint::RuleSet& lint_rules() {
    static const lint::RuleSet r{
        {},
        intel_lint,
        {"ZE_AFFINITY_MASK", "ONEAPI_DEVICE_SELECTOR"},
        nullptr, // no stack of its own for GL001, GL002, GL008
    };
    return r;
}

} // namespace gantry::gpu_vendors::intel
