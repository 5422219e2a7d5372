// SKELETON (issue 22): the amd-run branch completes add_to_run (request, selection, cached
// discovery, injection) and doctor()'s selection.
#include "vendor/amd/backend.hpp"

#include "gpu/amd/topology.hpp"
#include "gpu/host.hpp"
#include "util/error.hpp"
#include "vendor/amd/cdi.hpp"
#include "vendor/amd/doctor.hpp"

#include <sys/stat.h>

namespace gantry::vendor::amd {

namespace {

gpu::amd::DiscoverOptions discover_options(const Roots& roots) {
    return {roots.sys_root, roots.dev_root};
}

class Amd final : public Backend {
  public:
    std::string_view name() const override { return "amd"; }
    std::string_view cdi_kind() const override { return "amd.com/gpu"; }

    bool present(const Roots& roots) const override {
        struct stat st {};
        auto nodes = gpu::join_root(roots.sys_root, "/sys/class/kfd/kfd/topology/nodes");
        return ::stat(nodes.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }

    bool asked(const std::vector<std::string>& env,
               const std::optional<std::string>& gpus) const override {
        return gpus || env_value(env, "AMD_VISIBLE_DEVICES");
    }

    void add_to_run(const RunContext&, oci::RuntimeSpec&) const override {
        throw Error(Errc::unsupported, "AMD GPU injection is not built yet");
    }

    cdi::Spec generate_cdi(const Roots& roots, const CdiOptions& options,
                           std::vector<std::string>* warnings) const override {
        return amd::generate_cdi(gpu::amd::discover(discover_options(roots)), options, warnings);
    }

    std::vector<compat::Finding> doctor(const DoctorContext& ctx) const override {
        auto host = gpu::amd::discover(discover_options(ctx.roots));
        auto findings = host_findings(host, ctx.caller);
        if (!ctx.image) return findings;
        std::vector<const gpu::amd::Gpu*> selected;
        for (auto& g : host.gpus) selected.push_back(&g);
        auto more = image_findings(*ctx.store, *ctx.image, ctx.ref, ctx.env, host, selected,
                                   ctx.path_prefix);
        findings.insert(findings.end(), more.begin(), more.end());
        return findings;
    }
};

} // namespace

const Backend& backend() {
    static const Amd instance;
    return instance;
}

} // namespace gantry::vendor::amd
