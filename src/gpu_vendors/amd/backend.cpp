#include "gpu_vendors/amd/backend.hpp"

#include "gpu_host/device_node.hpp"
#include "gpu_vendors/amd/analyze_findings.hpp"
#include "gpu_vendors/amd/cache.hpp"
#include "gpu_vendors/amd/cdi.hpp"
#include "gpu_vendors/amd/device_code.hpp"
#include "gpu_vendors/amd/doctor.hpp"
#include "gpu_vendors/amd/inject.hpp"
#include "gpu_vendors/amd/lint_rules.hpp"
#include "gpu_vendors/amd/request.hpp"
#include "gpu_vendors/amd/topology.hpp"
#include "gpu_vendors/amd/wsl.hpp"
#include "util/error.hpp"
#include "util/lap_timer.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <sys/stat.h>

namespace gantry::gpu_vendors::amd {

namespace {

gpu_vendors::amd::DiscoverOptions discover_options(const Roots& roots) {
    return {roots.sys_root, roots.dev_root};
}

std::string cache_below(const std::string& root, const char* name) {
    return root.empty() ? std::string() : root + "/" + name;
}

// A request for GPUs on a host without a usable AMD GPU cannot run as asked.
void require_usable(const gpu_vendors::amd::Host& host, const gpu_vendors::amd::GpuRequest& req) {
    if (host.usable) return;
    throw Error(Errc::run_failed,
                req.source + " asks for AMD GPUs, but " +
                    (host.unusable_reason.empty() ? std::string("this host has none")
                                                  : host.unusable_reason),
                "load the amdgpu kernel module (modprobe amdgpu), point --sys-root and --dev-root "
                "at a host that has one, or run without " +
                    req.source);
}

bool kfd_present(const Roots& roots) {
    struct stat st {};
    auto nodes = gpu_host::join_root(roots.sys_root, "/sys/class/kfd/kfd/topology/nodes");
    return ::stat(nodes.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A host without KFD that has /dev/dxg: WSL2, where ROCm reaches GPUs through librocdxg.
std::optional<WslHost> wsl_host(const Roots& roots) {
    if (kfd_present(roots)) return std::nullopt;
    auto w = discover_wsl(roots);
    if (!w.dxg.present) return std::nullopt;
    return w;
}

// WSL2 gives every GPU or none: a request for some says so.
void warn_wsl_selection(const gpu_vendors::amd::GpuRequest& req) {
    if (req.inject && !req.all && !req.devices.empty())
        log::warn(req.source + " names AMD GPUs, but on WSL2 a container cannot get some GPUs "
                               "and not others: it gets every GPU");
}

class Amd final : public Backend {
  public:
    std::string_view name() const override { return "amd"; }
    std::string_view cdi_kind() const override { return "amd.com/gpu"; }

    bool present(const Roots& roots) const override {
        if (kfd_present(roots)) return true;
        auto w = wsl_host(roots);
        return w && w->present();
    }

    bool asked(const std::vector<std::string>& env,
               const std::optional<std::string>& gpus) const override {
        return gpus || env_value(env, "AMD_VISIBLE_DEVICES");
    }

    void add_to_run(const RunContext& ctx, oci::RuntimeSpec& spec) const override {
        auto request = gpu_vendors::amd::parse_request(ctx.env, ctx.gpus);
        if (!request.inject) return;
        log::LapTimer phase; // --debug: where a GPU start spends its time
        if (auto w = wsl_host(ctx.roots)) {
            warn_wsl_selection(request);
            inject_wsl(spec, *w, ctx.env); // the host's problems first: --no-require cannot help
            if (auto f = rocm_on_wsl(image_rocm_release(ctx.files)))
                apply_policy({*f}, ctx.no_require ? "--no-require" : nullptr);
            return;
        }
        auto host = gpu_vendors::amd::discover_cached(discover_options(ctx.roots),
                                                      cache_below(ctx.cache_dir, "amd-gpu-cache"));
        require_usable(host, request);
        auto sel = gpu_vendors::amd::select(host, request);
        phase.lap("amd gpu discovery");
        if (sel.gpus.empty()) return;
        // The caller must be able to open the nodes: said before the doctor's rules, which
        // could only say it less precisely.
        check_access(host.kfd, "the ROCm compute node", ctx.caller);
        auto findings = host_findings(host, ctx.caller);
        auto more = image_findings_cached(ctx.store, ctx.image, ctx.ref, ctx.env, host, sel.gpus,
                                          cache_below(ctx.cache_dir, "amd-doctor-cache"));
        findings.insert(findings.end(), more.begin(), more.end());
        apply_policy(findings, ctx.no_require ? "--no-require" : nullptr);
        phase.lap("pre-launch checks");
        inject(spec, host, sel.gpus, ctx.caller);
        phase.lap("injection plan");
    }

    cdi::Spec generate_cdi(const Roots& roots, const CdiOptions& options,
                           std::vector<std::string>* warnings) const override {
        if (auto w = wsl_host(roots)) return generate_wsl_cdi(*w);
        return amd::generate_cdi(gpu_vendors::amd::discover(discover_options(roots)), options,
                                 warnings);
    }

    std::vector<std::string> cdi_devices(const Roots& roots, const std::vector<std::string>& env,
                                         const std::optional<std::string>& gpus) const override {
        auto request = gpu_vendors::amd::parse_request(env, gpus);
        if (!request.inject) return {};
        if (wsl_host(roots)) return {"all"}; // generate_cdi's one device there
        auto host = gpu_vendors::amd::discover(discover_options(roots));
        require_usable(host, request);
        std::vector<std::string> names; // generate_cdi names devices by the GPUs' indices
        for (const auto* g : gpu_vendors::amd::select(host, request).gpus)
            names.push_back(std::to_string(g->index));
        return names;
    }

    std::vector<std::string> device_targets(const Roots& roots) const override {
        auto host = gpu_vendors::amd::discover(discover_options(roots));
        std::vector<std::string> out;
        for (const auto& g : host.gpus) {
            if (g.gfx_target.empty())
                throw Error(Errc::not_found,
                            "--keep-arch host: the GPU target of AMD GPU " +
                                std::to_string(g.index) + " (KFD node " + std::to_string(g.node) +
                                ") is not known",
                            "its gfx_target_version is " + std::to_string(g.gfx_target_version) +
                                "; name the target instead, e.g. --keep-arch gfx942");
            // sramecc as ROCr derives it; xnack is the process's mode (HSA_XNACK), so it is left
            // out and code objects for either mode are kept.
            std::string t = g.gfx_target;
            if (g.sramecc) t += *g.sramecc ? ":sramecc+" : ":sramecc-";
            if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
        }
        return out;
    }

    std::vector<findings::Finding> doctor(const DoctorContext& ctx) const override {
        if (auto w = wsl_host(ctx.roots)) return wsl_doctor(*w, ctx);
        auto host = gpu_vendors::amd::discover_cached(discover_options(ctx.roots),
                                                      cache_below(ctx.cache_dir, "amd-gpu-cache"));
        auto findings = host_findings(host, ctx.caller);
        if (!ctx.image) return findings;
        gpu_vendors::amd::Selection sel;
        try {
            auto req = gpu_vendors::amd::parse_request(ctx.env, ctx.gpus);
            // A doctor run with no request checks the image against every GPU of the host.
            if (!req.inject) req.inject = req.all = true;
            sel = gpu_vendors::amd::select(host, req);
        } catch (const Error& e) {
            findings.push_back({"GPU-UNKNOWN", findings::Severity::fail, e.message(), e.hint()});
        }
        auto more = image_findings(*ctx.store, *ctx.image, ctx.ref, ctx.env, host, sel.gpus,
                                   ctx.path_prefix);
        findings.insert(findings.end(), more.begin(), more.end());
        return findings;
    }

    std::vector<const device_code::Format*> device_code() const override { return {&hip_format()}; }

    std::vector<RootFlag> root_flags() const override {
        return {{"--driver-root", &Roots::driver_root, "Root of the GPU driver installation",
                 "AMD on WSL2: usr/lib/wsl, opt/rocm"},
                {"--dev-root", &Roots::dev_root, "Root holding dev/ (GPU device nodes)"},
                {"--sys-root", &Roots::sys_root, "Root holding sys/",
                 "AMD: the KFD topology and amdgpu's version"}};
    }

    std::string_view apptainer_flag() const override { return "--rocm"; }
    std::string_view hide_env() const override { return "AMD_VISIBLE_DEVICES=void"; }

    const lint::RuleSet* lint_rules() const override { return &amd::lint_rules(); }
    std::unique_ptr<ImageFindings> analyze_findings() const override {
        return amd::analyze_findings();
    }
    std::string_view keep_arch_example() const override { return "gfx942 (AMD)"; }

    std::optional<findings::Finding> image_without_host(const store::Store& store,
                                                        const store::Image& image,
                                                        const Roots& roots) const override {
        return rocm_image_without_amd(store, image, roots.sys_root);
    }

    // Slurm's gres.conf amd_gpu_env and opencl_env (both defaults): ROCr's list, and the one
    // ROCclr (HIP and OpenCL) reads (reference rocm.md)
    std::span<const std::string_view> slurm_gpu_variables() const override {
        static constexpr std::string_view names[] = {"ROCR_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL"};
        return names;
    }
};

} // namespace

const Backend& backend() {
    static const Amd instance;
    return instance;
}

} // namespace gantry::gpu_vendors::amd
