#include "gpu_vendors/nvidia/lint_rules.hpp"

#include "lint/rules.hpp"
#include "lint/rx.hpp"

namespace gantry::gpu_vendors::nvidia {

namespace {

// NVIDIA_DRIVER_CAPABILITIES lists "all" (any case, blanks ignored).
bool nvidia_caps_all(const std::string& v) {
    std::string item;
    bool all = false;
    for (char ch : v + ",") {
        if (ch == ',') {
            all |= item == "all";
            item.clear();
        } else if (ch != ' ') {
            item += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
    }
    return all;
}

void nvidia_lint(const lint::RuleContext& cx) {
    const char esc = cx.build.file->escape;
    static const lint::Rx stubs(R"((^|/)stubs/?$)");
    for (const auto& st : cx.build.stages) {
        for (const auto& step : st.steps) {
            const auto& kw = step.in->keyword;
            if (kw == "RUN") {
                for (const auto& c : step.commands)
                    if (c.name() == "nvidia-smi" && !step.in->flag("device"))
                        cx.add("GL013", st, &step,
                               "RUN nvidia-smi: no GPU is available while the image builds, so "
                               "this fails or only describes the build machine",
                               "check GPUs when the container starts (gantry doctor IMAGE, or "
                               "the entrypoint), not in RUN");
                const auto& text = step.in->original;
                if (st.ships && text.find("/stubs") != std::string::npos &&
                    (text.find("ld.so.conf") != std::string::npos ||
                     text.find("libcuda.so.1") != std::string::npos))
                    cx.add("GL015", st, &step,
                           "RUN makes the CUDA driver stub libraries visible at run time "
                           "(ld.so.conf or libcuda.so.1): the stub shadows the host driver and "
                           "every CUDA call fails",
                           "link against the stubs only while building (-L/usr/local/cuda/lib64/"
                           "stubs or LIBRARY_PATH), never through ld.so.conf or libcuda.so.1");
            }
            if (kw != "ENV" || !st.ships) continue;
            for (auto& [k, v] : lint::env_pairs(*step.in, esc, step.env)) {
                if (k == "NVIDIA_DRIVER_CAPABILITIES" && nvidia_caps_all(v))
                    cx.add("GL009", st, &step,
                           "NVIDIA_DRIVER_CAPABILITIES=" + v.substr(0, 80) +
                               " mounts every driver library (graphics, video, display, "
                               "ngx...) into every container of this image",
                           "list only what the workload needs, e.g. "
                           "NVIDIA_DRIVER_CAPABILITIES=compute,utility");
                if (k != "LD_LIBRARY_PATH") continue;
                std::string part;
                for (char ch : v + ":") {
                    if (ch != ':') {
                        part += ch;
                        continue;
                    }
                    if (lint::rx_search(part, stubs))
                        cx.add("GL015", st, &step,
                               "LD_LIBRARY_PATH includes the CUDA driver stubs (" + part +
                                   "): their libcuda.so shadows the host driver's at run "
                                   "time and CUDA fails with \"driver version is "
                                   "insufficient\"",
                               "remove " + part +
                                   " from LD_LIBRARY_PATH; link against the stubs only "
                                   "while building (-L" +
                                   part + " or LIBRARY_PATH)");
                    part.clear();
                }
            }
        }
    }
}

} // namespace

const lint::RuleSet& lint_rules() {
    static const lint::RuleSet r{
        {
            {"GL009", findings::Severity::warn, "NVIDIA_DRIVER_CAPABILITIES=all"},
            {"GL015", findings::Severity::fail, "CUDA driver stubs on LD_LIBRARY_PATH"},
        },
        nvidia_lint,
        {"CUDA_VISIBLE_DEVICES"},
        &lint_stack(),
    };
    return r;
}

} // namespace gantry::gpu_vendors::nvidia
