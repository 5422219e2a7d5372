#include "gpu_vendors/intel/backend.hpp"

#include "gpu_vendors/device_nodes.hpp"
#include "gpu_vendors/intel/analyze_findings.hpp"
#include "gpu_vendors/intel/cdi.hpp"
#include "gpu_vendors/intel/device_code.hpp"
#include "gpu_vendors/intel/doctor.hpp"
#include "gpu_vendors/intel/doctor_driver.hpp"
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

// gantry run's shape of the description: each selected GPU's /dev/dri/by-path entries as links
// to its nodes ("../card1", as the host has them) rather than the nodes bound there (Intel's
// resource driver's CDI form), and the nodes' groups (apply_plan gives them to the process as
// the caller allows).
void shape_for_run(cdi::Spec& spec, const std::vector<const Gpu*>& gpus,
                   const std::string& gantry_path) {
    for (const Gpu* g : gpus) {
        cdi::Device* d = nullptr;
        for (auto& dev : spec.devices)
            if (dev.name == std::to_string(g->index)) d = &dev;
        if (!d) continue;
        std::erase_if(d->edits.mounts, [](const cdi::Mount& m) {
            return m.container_path.starts_with("/dev/dri/by-path/");
        });
        std::vector<std::string> args{"gantry", "hook", "create-symlinks"};
        for (const auto& link : g->by_path) {
            const gpu_host::DeviceNode& n = link.ends_with("-render") ? g->render : g->card;
            if (!n.present) continue;
            args.insert(args.end(),
                        {"--link", "../" + n.path.substr(n.path.rfind('/') + 1) + "::" + link});
        }
        if (args.size() > 3)
            d->edits.hooks.push_back({"createContainer",
                                      gantry_path,
                                      args,
                                      {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
                                      std::nullopt});
        for (const auto* n : {&g->render, &g->card})
            if (n->present && n->gid != 0 &&
                std::find(spec.edits.additional_gids.begin(), spec.edits.additional_gids.end(),
                          n->gid) == spec.edits.additional_gids.end())
                spec.edits.additional_gids.push_back(n->gid);
    }
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

    GpuPlan plan(const GpuContext& ctx) const override {
        GpuPlan plan;
        auto request = parse_request(ctx.gpus);
        if (!request.inject) return plan;
        plan.override_by = ctx.no_require ? ctx.no_require_name : nullptr;
        plan.how_to_override = std::string(ctx.no_require_name) + " runs it anyway";
        log::LapTimer phase;
        auto host = discover(intel_options(ctx.roots));
        intel_require_gpus(host);
        auto sel = select(host, request);
        phase.lap("intel gpu discovery");
        if (sel.gpus.empty()) return plan;
        if (ctx.door == Door::run)
            for (const Gpu* g : sel.gpus) {
                std::string who =
                    "Intel GPU " + std::to_string(g->index) + " (" + g->card_name + ")";
                if (!g->render_matched)
                    throw Error(Errc::run_failed, who + " has no render node in sysfs",
                                "check the i915/xe driver (dmesg), or the --sys-root given");
                check_node_access(g->render, who + "'s render node", ctx.caller,
                                  "load the i915 or xe kernel module, or point --dev-root at the "
                                  "directory holding dev/dri");
            }
        auto user = find_user_space(ctx.roots.driver_root);
        Host chosen = host; // the host rules for the selected GPUs only
        chosen.gpus.clear();
        for (const Gpu* g : sel.gpus) chosen.gpus.push_back(*g);
        plan.findings = host_findings(chosen, user, ctx.caller);
        std::erase_if(plan.findings, [](const findings::Finding& f) {
            return f.id == "INTEL-RENDER-ACCESS"; // run's own check says it better
        });
        if (ctx.image) {
            auto more = image_findings_cached(
                ctx.image->store, ctx.image->image, sel.gpus,
                ctx.cache_dir.empty() ? std::string() : ctx.cache_dir + "/intel-doctor-cache");
            plan.findings.insert(plan.findings.end(), more.begin(), more.end());
            if (driver_rules_apply(user)) {
                auto drv = driver_findings(user, image_libraries(ctx.image->files));
                plan.findings.insert(plan.findings.end(), drv.begin(), drv.end());
            }
        }
        phase.lap("pre-launch checks");
        plan.spec =
            intel::generate_cdi(host, user, CdiOptions{{"index"}, ctx.gantry_path}, &plan.warnings);
        std::vector<std::string> buses;
        for (const Gpu* g : sel.gpus) {
            plan.devices.push_back(std::to_string(g->index));
            buses.push_back(g->pci_bus_id);
        }
        set_pci_functions(plan, buses);
        if (ctx.door == Door::run) shape_for_run(plan.spec, sel.gpus, ctx.gantry_path);
        phase.lap("description");
        return plan;
    }

    cdi::Spec generate_cdi(const Roots& roots, const CdiOptions& options,
                           std::vector<std::string>* warnings) const override {
        return intel::generate_cdi(discover(intel_options(roots)),
                                   find_user_space(roots.driver_root), options, warnings);
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

    // the compute runtime's (NEO's) persistent cache, on, and its directory
    std::vector<kernel_cache::Variable> kernel_cache_variables() const override {
        return {{"NEO_CACHE_PERSISTENT", "1", false, false, "Intel's compute runtime cache"},
                {"NEO_CACHE_DIR", "neo", true, false, "Intel's compute runtime cache"}};
    }
    std::vector<kernel_cache::Disabler> kernel_cache_disablers() const override {
        return {{"NEO_CACHE_PERSISTENT",
                 {"0"},
                 "Intel's compute runtime cache",
                 "NEO_CACHE_PERSISTENT=1"}};
    }

    // the compute runtime's version (NEO, whose cache it is) and every GPU's AOT target
    std::vector<std::string> kernel_cache_facts(const Roots& roots,
                                                const std::string& cache_dir) const override {
        auto facts = Backend::kernel_cache_facts(roots, cache_dir);
        auto user = find_user_space(roots.driver_root);
        facts.insert(facts.begin(),
                     "driver=" + (user.driver_version ? user.driver_version->text : "unknown"));
        return facts;
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
