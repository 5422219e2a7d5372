#include "gpu_vendors/intel/backend.hpp"

#include "gpu_vendors/intel/analyze_findings.hpp"
#include "gpu_vendors/intel/cdi.hpp"
#include "gpu_vendors/intel/device_code.hpp"
#include "gpu_vendors/intel/doctor.hpp"
#include "gpu_vendors/intel/doctor_driver.hpp"
#include "gpu_vendors/intel/inject.hpp"
#include "gpu_vendors/intel/lint_rules.hpp"
#include "gpu_vendors/intel/request.hpp"
#include "gpu_vendors/intel/topology.hpp"
#include "gpu_vendors/intel/userspace.hpp"
#include "util/error.hpp"
#include "util/lap_timer.hpp"
#include "util/log.hpp"

#include <algorithm>

namespace gantry::gpu_vendors::intel {

namespace {

DiscoverOptions intel_options(const Roots& roots) {
    return {roots.sys_root, roots.dev_root};
}

void intel_require_gpus(const Host& host) {
    if (!host.gpus.empty()) return;
    throw Error(Errc::run_failed,
                "--gpus asks for Intel GPUs, but this host has none (no DRM card of the i915 or "
                "xe driver under " +
                    host.sys_root + "/sys/class/drm)",
                "load the i915 or xe kernel module, point --sys-root and --dev-root at a host that "
                "has one, or run without --gpus");
}

class Intel final : public Backend {
  public:
    std::string_view name() const override { return "intel"; }
    std::string_view cdi_kind() const override { return "intel.com/gpu"; }

    bool present(const Roots& roots) const override { return has_intel_card(roots.sys_root); }

    bool asked(const std::vector<std::string>&,
               const std::optional<std::string>& gpus) const override {
        return gpus.has_value(); // Intel's tooling has no selecting variable (request.hpp)
    }

    void add_to_run(const RunContext& ctx, oci::RuntimeSpec& spec) const override {
        auto request = parse_request(ctx.gpus);
        if (!request.inject) return;
        log::LapTimer phase;
        auto host = discover(intel_options(ctx.roots));
        intel_require_gpus(host);
        auto sel = select(host, request);
        phase.lap("intel gpu discovery");
        if (sel.gpus.empty()) return;
        auto user = find_user_space(ctx.roots.driver_root);
        Host chosen = host; // the host rules for the selected GPUs only
        chosen.gpus.clear();
        for (const Gpu* g : sel.gpus) chosen.gpus.push_back(*g);
        auto findings = host_findings(chosen, user, ctx.caller);
        std::erase_if(findings, [](const findings::Finding& f) {
            return f.id == "INTEL-RENDER-ACCESS"; // inject's own check says it better
        });
        auto more = image_findings_cached(
            ctx.store, ctx.image, sel.gpus,
            ctx.cache_dir.empty() ? std::string() : ctx.cache_dir + "/intel-doctor-cache");
        findings.insert(findings.end(), more.begin(), more.end());
        if (driver_rules_apply(user)) {
            auto drv = driver_findings(user, image_libraries(ctx.files));
            findings.insert(findings.end(), drv.begin(), drv.end());
        }
        apply_policy(findings, ctx.no_require ? "--no-require" : nullptr);
        phase.lap("pre-launch checks");
        inject(spec, sel.gpus, user, ctx.caller);
        phase.lap("injection plan");
    }

    cdi::Spec generate_cdi(const Roots& roots, const CdiOptions& options,
                           std::vector<std::string>* warnings) const override {
        return intel::generate_cdi(discover(intel_options(roots)),
                                   find_user_space(roots.driver_root), options, warnings);
    }

    std::vector<std::string> cdi_devices(const Roots& roots, const std::vector<std::string>&,
                                         const std::optional<std::string>& gpus) const override {
        auto request = parse_request(gpus);
        if (!request.inject) return {};
        auto host = discover(intel_options(roots));
        intel_require_gpus(host);
        std::vector<std::string> names;
        for (const Gpu* g : select(host, request).gpus) names.push_back(std::to_string(g->index));
        return names;
    }

    // The AOT device names of the host's GPUs; a GPU gantry's table does not know (an iGPU) is
    // left out rather than failing --keep-arch host for the other vendors' GPUs.
    std::vector<std::string> device_targets(const Roots& roots) const override {
        std::vector<std::string> out;
        for (const auto& g : discover(intel_options(roots)).gpus)
            if (!g.aot_target.empty() &&
                std::find(out.begin(), out.end(), g.aot_target) == out.end())
                out.push_back(g.aot_target);
        return out;
    }

    std::vector<const device_code::Format*> device_code() const override {
        return {&intel_format()};
    }

    std::vector<findings::Finding> doctor(const DoctorContext& ctx) const override {
        auto host = discover(intel_options(ctx.roots));
        auto user = find_user_space(ctx.roots.driver_root);
        auto findings = host_findings(host, user, ctx.caller);
        if (!ctx.image || host.gpus.empty()) return findings;
        Selection sel;
        try {
            auto req = parse_request(ctx.gpus);
            if (!req.inject) req.inject = req.all = true; // no request: every GPU of the host
            sel = select(host, req);
        } catch (const Error& e) {
            findings.push_back({"GPU-UNKNOWN", findings::Severity::fail, e.message(), e.hint()});
        }
        auto more = image_findings(*ctx.store, *ctx.image, sel.gpus, ctx.path_prefix);
        findings.insert(findings.end(), more.begin(), more.end());
        more = driver_findings(
            user, image_libraries(rootfs::LayerFiles(*ctx.store, ctx.image->config.diff_ids)));
        findings.insert(findings.end(), more.begin(), more.end());
        return findings;
    }

    std::vector<RootFlag> root_flags() const override {
        return {{"--driver-root", &Roots::driver_root, "Root of the GPU driver installation",
                 "Intel: Level Zero and the compute runtime"},
                {"--dev-root", &Roots::dev_root, "Root holding dev/ (GPU device nodes)"},
                {"--sys-root", &Roots::sys_root, "Root holding sys/", "Intel: the DRM cards"}};
    }

    // Intel's tooling has no variable that hides GPUs, and none asks for them: a build's RUN
    // steps get Intel GPUs only when --gpus asks.
    std::string_view hide_env() const override { return {}; }

    const lint::RuleSet* lint_rules() const override { return &intel::lint_rules(); }
    std::unique_ptr<ImageFindings> analyze_findings() const override {
        return intel::analyze_findings();
    }
    std::string_view keep_arch_example() const override { return "pvc (Intel)"; }

    // Slurm's gres.conf intel_gpu_env (a default): Level Zero's device list
    std::span<const std::string_view> slurm_gpu_variables() const override {
        static constexpr std::string_view names[] = {"ZE_AFFINITY_MASK"};
        return names;
    }
};

} // namespace

const Backend& backend() {
    static const Intel instance;
    return instance;
}

} // namespace gantry::gpu_vendors::intel
