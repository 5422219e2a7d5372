#include "engine/gpus.hpp"

#include "engine/gpu_facts.hpp"
#include "gpu/cache.hpp"
#include "runspec/gpu.hpp"
#include "runtime/state.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <chrono>

namespace gantry::engine {

void apply_doctor_policy(const std::vector<compat::Finding>& findings, const char* override_by) {
    for (auto& fd : findings) {
        if (fd.severity == compat::Severity::fail && !override_by)
            throw Error(Errc::run_failed, fd.message,
                        fd.fix + (fd.fix.empty() ? "" : "; ") +
                            "--no-require (or NVIDIA_DISABLE_REQUIRE=true) runs it anyway");
        if (fd.severity == compat::Severity::fail)
            log::warn(fd.message + " (requirements not checked: " + override_by + ")");
        else if (fd.severity == compat::Severity::warn)
            log::warn(fd.message);
    }
}

void add_gpus(Prepared& p, const gpu::Request& request) {
    if (!request.inject) return;
    auto t0 = std::chrono::steady_clock::now();
    auto phase = [&t0](const char* what) { // --debug: where a GPU start spends its time
        auto now = std::chrono::steady_clock::now();
        log::debug(std::string(what) + ": " +
                   std::to_string(std::chrono::duration<double, std::milli>(now - t0).count()) +
                   " ms");
        t0 = now;
    };
    const auto& r = p.request;
    const auto& img = p.view.image;
    auto gpu_host = gpu::discover_cached({r.driver_root, r.dev_root, true},
                                         (runtime::runtime_dir() / "gpu-cache").string());
    auto sel = gpu::select(gpu_host, request);
    // gantry doctor's rules (driver vs the image's CUDA, NVIDIA_REQUIRE_*, kernels for the
    // selected GPUs, ...) before any namespace exists; cached per image, driver and GPUs.
    phase("gpu discovery");
    auto facts =
        image_gpu_facts_cached(*p.store, img, r.image, *p.options.environment, gpu_host, request,
                               sel, (runtime::runtime_dir() / "doctor-cache").string());
    apply_doctor_policy(facts.findings, r.no_require              ? "--no-require"
                                        : request.disable_require ? "NVIDIA_DISABLE_REQUIRE"
                                                                  : nullptr);
    phase("pre-launch checks and image layout");
    runspec::inject_gpus(p.spec, gpu_host, sel, request.caps, facts.layout,
                         p.scratch->dir().string());
    phase("injection plan");
}

} // namespace gantry::engine
