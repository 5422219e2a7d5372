#include "gpu_vendors/amd/lint_rules.hpp"

#include "lint/rules.hpp"

namespace gantry::gpu_vendors::amd {

namespace {

// GL013 for AMD: ROCm's GPU probes in RUN, or /dev/kfd used by a RUN, while no GPU exists.
// BuildKit's RUN --device takes a CDI device name (amd.com/gpu=all), never a device path.
void amd_gpu_at_build(const lint::RuleContext& cx, const lint::Stage& st, const lint::Step& step,
                      const lint::Command& c) {
    static const char* const probes[] = {"rocminfo", "rocm-smi", "amd-smi",
                                         "rocm_agent_enumerator"};
    const lint::Flag* dev = step.in->flag("device");
    bool cdi = dev && dev->value.find('=') != std::string::npos && !dev->value.starts_with("/");
    std::string n = c.name();
    for (const char* p : probes)
        if (n == p && !cdi) {
            cx.add("GL013", st, &step,
                   "RUN " + n +
                       ": no GPU is available while the image builds, so this fails (\"ROCk "
                       "module is NOT loaded\", HSA_STATUS_ERROR_OUT_OF_RESOURCES) or only "
                       "describes the build machine",
                   "check GPUs when the container starts (gantry doctor IMAGE, or the "
                   "entrypoint), not in RUN; give GPU targets explicitly (PYTORCH_ROCM_ARCH, "
                   "GPU_TARGETS) instead of detecting them");
            return;
        }
    bool kfd = dev && dev->value.starts_with("/dev/kfd");
    for (std::size_t i = 1; i < c.argv.size() && !kfd; ++i)
        kfd = c.argv[i].find("/dev/kfd") != std::string::npos;
    if (!kfd) return;
    cx.add("GL013", st, &step,
           "RUN uses /dev/kfd: the ROCm compute device does not exist while the image builds" +
               std::string(dev && dev->value.starts_with("/")
                               ? " (RUN --device takes a CDI device name, not a path)"
                               : ""),
           "use the GPU when the container runs (gantry run --gpus all, or --device "
           "amd.com/gpu=all), not in RUN");
}

void amd_lint(const lint::RuleContext& cx) {
    for (const auto& st : cx.build.stages)
        for (const auto& step : st.steps)
            if (step.in->keyword == "RUN")
                for (const auto& c : step.commands) amd_gpu_at_build(cx, st, step, c);
    lint_arch_lists(cx);
}

} // namespace

const lint::RuleSet& lint_rules() {
    static const lint::RuleSet r{
        {
            {"GL017", findings::Severity::warn,
             "PYTORCH_ROCM_ARCH / GPU_TARGETS / AMDGPU_TARGETS lists disagree"},
        },
        amd_lint,
        {"HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL"},
        &lint_stack(),
    };
    return r;
}

} // namespace gantry::gpu_vendors::amd
