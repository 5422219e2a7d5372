#include "gpu_vendors/amd/backend.hpp"

#include "gpu_host/device_node.hpp"
#include "gpu_vendors/amd/analyze_findings.hpp"
#include "gpu_vendors/amd/cache.hpp"
#include "gpu_vendors/amd/cdi.hpp"
#include "gpu_vendors/amd/cu_mask.hpp"
#include "gpu_vendors/amd/device_code.hpp"
#include "gpu_vendors/amd/doctor.hpp"
#include "gpu_vendors/amd/lint_rules.hpp"
#include "gpu_vendors/amd/request.hpp"
#include "gpu_vendors/amd/topology.hpp"
#include "gpu_vendors/amd/wsl.hpp"
#include "gpu_vendors/device_nodes.hpp"
#include "util/error.hpp"
#include "util/lap_timer.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

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

// What the container needs beyond amd-ctk's device nodes: ROCR_VISIBLE_DEVICES naming the
// selected GPUs (when each has a UUID), and, for gantry run, the nodes' groups (apply_plan gives
// them to the process as the caller allows).
void add_container_edits(cdi::ContainerEdits& e, const Host& host,
                         const std::vector<const Gpu*>& gpus, Door door) {
    std::string visible;
    bool all_have_uuid = true;
    for (auto* g : gpus) {
        if (g->uuid.empty()) all_have_uuid = false;
        visible += (visible.empty() ? "" : ",") + g->uuid;
    }
    if (all_have_uuid)
        e.env.push_back("ROCR_VISIBLE_DEVICES=" + visible);
    else
        log::debug("ROCR_VISIBLE_DEVICES not set: a selected GPU has no unique_id in its "
                   "topology (only its device nodes restrict the runtime)");
    if (door != Door::run) return;
    std::vector<const gpu_host::DeviceNode*> nodes{&host.kfd};
    for (auto* g : gpus) {
        nodes.push_back(&g->render);
        if (g->card_matched && g->card.present) nodes.push_back(&g->card);
    }
    for (auto* n : nodes)
        if (n->gid != 0 && std::find(e.additional_gids.begin(), e.additional_gids.end(), n->gid) ==
                               e.additional_gids.end())
            e.additional_gids.push_back(n->gid);
}

class Amd final : public Backend {
  public:
    std::string_view name() const override { return "amd"; }

    AdvisoryShare advisory_compute_share(const Roots& roots,
                                         const std::vector<std::string>& pci_functions,
                                         unsigned percent) const override {
        const auto host = gpu_vendors::amd::discover(discover_options(roots));
        std::vector<unsigned> cus;
        std::string counts;
        for (const auto& f : pci_functions) {
            std::vector<const gpu_vendors::amd::Gpu*> nodes;
            for (const auto& g : host.gpus)
                if (g.pci_bus_id == f) nodes.push_back(&g);
            if (nodes.size() != 1)
                throw Error(Errc::run_failed,
                            "--gpu-compute: GPU " + f +
                                (nodes.empty()
                                     ? " is not in the KFD topology"
                                     : " is partitioned (" + std::to_string(nodes.size()) +
                                           " KFD nodes): a partition is its share"),
                            "drop --gpu-compute, or give the container a partition");
            cus.push_back(amd::compute_units(host.sys_root, *nodes.front()));
            counts += (counts.empty() ? "" : ", ") + std::to_string(cus.back());
        }
        AdvisoryShare share;
        share.env.push_back("HSA_CU_MASK=" + amd::hsa_cu_mask(cus, percent));
        share.note = "--gpu-compute " + std::to_string(percent) +
                     " on AMD GPUs is advisory: " + share.env.back() + " asks ROCm to use " +
                     std::to_string(percent) + "% of the compute units (of " + counts +
                     "), and a process can change its environment; the kernel enforces no share";
        return share;
    }
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

    GpuPlan plan(const GpuContext& ctx) const override {
        GpuPlan plan;
        auto request = gpu_vendors::amd::parse_request(ctx.env, ctx.gpus);
        if (!request.inject) return plan;
        plan.override_by = ctx.no_require ? ctx.no_require_name : nullptr;
        plan.how_to_override = std::string(ctx.no_require_name) + " runs it anyway";
        log::LapTimer phase; // --debug: where a GPU start spends its time
        if (auto w = wsl_host(ctx.roots)) {
            warn_wsl_selection(request);
            if (ctx.door == Door::run) check_wsl(*w); // the host's: --no-require cannot help
            if (ctx.image)
                if (auto f = rocm_on_wsl(image_rocm_release(ctx.image->files)))
                    plan.findings.push_back(*f);
            plan.spec = generate_wsl_cdi(*w);
            // a value the container sets itself stays
            if (env_value(ctx.env, "HSA_ENABLE_DXG_DETECTION"))
                for (auto& d : plan.spec.devices)
                    std::erase_if(d.edits.env, [](const std::string& e) {
                        return e.starts_with("HSA_ENABLE_DXG_DETECTION=");
                    });
            plan.devices = {"all"};
            return plan;
        }
        auto host = gpu_vendors::amd::discover_cached(discover_options(ctx.roots),
                                                      cache_below(ctx.cache_dir, "amd-gpu-cache"));
        require_usable(host, request);
        auto sel = gpu_vendors::amd::select(host, request);
        phase.lap("amd gpu discovery");
        if (sel.gpus.empty()) return plan;
        if (ctx.door == Door::run) {
            // libhsakmt opens /dev/kfd and each GPU's render node read-write: said before the
            // doctor's rules, which could only say it less precisely.
            check_access(host.kfd, "the ROCm compute node", ctx.caller);
            for (auto* g : sel.gpus)
                check_access(g->render,
                             "GPU " + std::to_string(g->index) +
                                 (g->uuid.empty() ? "" : " (" + g->uuid + ")") + "'s render node",
                             ctx.caller);
        }
        plan.findings = host_findings(host, ctx.caller);
        if (ctx.image) {
            auto more = image_findings_cached(ctx.image->store, ctx.image->image, ctx.image->ref,
                                              ctx.env, host, sel.gpus,
                                              cache_below(ctx.cache_dir, "amd-doctor-cache"));
            plan.findings.insert(plan.findings.end(), more.begin(), more.end());
        }
        phase.lap("pre-launch checks");
        plan.spec = amd::generate_cdi(host, CdiOptions{}, &plan.warnings);
        std::vector<std::string> buses;
        for (const auto* g : sel.gpus) {
            plan.devices.push_back(std::to_string(g->index));
            buses.push_back(g->pci_bus_id);
        }
        set_pci_functions(plan, buses);
        add_container_edits(plan.spec.edits, host, sel.gpus, ctx.door);
        phase.lap("description");
        return plan;
    }

    cdi::Spec generate_cdi(const Roots& roots, const CdiOptions& options,
                           std::vector<std::string>* warnings) const override {
        if (auto w = wsl_host(roots)) return generate_wsl_cdi(*w);
        return amd::generate_cdi(gpu_vendors::amd::discover(discover_options(roots)), options,
                                 warnings);
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

    // the amdgpu driver (its DKMS version, else the kernel's release: the inbox driver) and every
    // GPU's target
    std::vector<std::string> kernel_cache_facts(const Roots& roots,
                                                const std::string& cache_dir) const override {
        auto facts = Backend::kernel_cache_facts(roots, cache_dir);
        auto host = gpu_vendors::amd::discover_cached(discover_options(roots),
                                                      cache_below(cache_dir, "amd-gpu-cache"));
        std::string driver = host.driver_version;
        if (driver.empty()) {
            struct utsname u {};
            if (::uname(&u) == 0) driver = std::string("kernel ") + u.release;
        }
        facts.insert(facts.begin(), "driver=" + driver);
        return facts;
    }

    // MIOpen's user performance database and kernel cache, ROCm comgr's cache (hipRTC)
    std::vector<kernel_cache::Variable> kernel_cache_variables() const override {
        return {
            {"MIOPEN_USER_DB_PATH", "miopen/db", true, false, "MIOpen's user performance database"},
            {"MIOPEN_CUSTOM_CACHE_DIR", "miopen/cache", true, false, "MIOpen's kernel cache"},
            {"AMD_COMGR_CACHE_DIR", "comgr", true, false, "ROCm comgr's cache (hipRTC)"}};
    }
    std::vector<kernel_cache::Disabler> kernel_cache_disablers() const override {
        return {{"MIOPEN_DISABLE_CACHE",
                 {"1", "true", "TRUE", "on", "ON", "yes"},
                 "MIOpen's kernel cache",
                 "MIOPEN_DISABLE_CACHE=0"},
                {"AMD_COMGR_CACHE", {"0"}, "ROCm comgr's cache", "AMD_COMGR_CACHE=1"}};
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

void check_access(const gpu_host::DeviceNode& node, const std::string& what,
                  const CallerIds& caller) {
    check_node_access(node, what, caller,
                      "load the amdgpu kernel module (modprobe amdgpu), or point --dev-root at the "
                      "directory holding dev/kfd and dev/dri",
                      ", or have the administrator open the AMD nodes to all users with a udev "
                      "rule: KERNEL==\"kfd\", MODE=\"0666\" and SUBSYSTEM==\"drm\", "
                      "KERNEL==\"renderD*\", MODE=\"0666\"");
}

const Backend& backend() {
    static const Amd instance;
    return instance;
}

} // namespace gantry::gpu_vendors::amd
