#include "stub_backend.hpp"

#include "util/error.hpp"

#include <filesystem>

namespace stub_vendor {

using namespace gantry;
using namespace gantry::gpu_vendors;

namespace {

const RootFlag kStubRoot{"--stub-root", nullptr, "Root holding the stub driver's dev/stub0"};

std::string stub_node(const Roots& roots) {
    return roots.more_root(kStubRoot.name) + "/dev/stub0";
}

class Stub final : public Backend {
  public:
    std::string_view name() const override { return "stub"; }
    std::string_view cdi_kind() const override { return "stub.example/gpu"; }
    bool present(const Roots& roots) const override {
        std::error_code ec;
        return std::filesystem::exists(stub_node(roots), ec);
    }
    bool asked(const std::vector<std::string>& env,
               const std::optional<std::string>& gpus) const override {
        return gpus || env_value(env, "STUB_VISIBLE_DEVICES");
    }
    GpuPlan plan(const GpuContext& ctx) const override {
        GpuPlan plan;
        if (env_value(ctx.env, "STUB_VISIBLE_DEVICES") == "void") return plan;
        if (!present(ctx.roots))
            throw Error(Errc::not_found, "no stub GPU at " + stub_node(ctx.roots),
                        "point --stub-root at the host that has it");
        plan.spec = generate_cdi(ctx.roots, {}, nullptr);
        plan.spec.edits.env.push_back("STUB_INJECTED=" + stub_node(ctx.roots));
        plan.devices = {"0"};
        return plan;
    }
    cdi::Spec generate_cdi(const Roots& roots, const CdiOptions&,
                           std::vector<std::string>*) const override {
        if (!present(roots))
            throw Error(Errc::not_found, "no stub GPU to describe", "set --stub-root");
        cdi::Spec spec;
        spec.cdi_version = "0.5.0";
        spec.kind = std::string(cdi_kind());
        cdi::Device dev;
        dev.name = "0";
        dev.edits.device_nodes.push_back({"/dev/stub0", stub_node(roots)});
        spec.devices.push_back(dev);
        return spec;
    }
    std::vector<findings::Finding> doctor(const DoctorContext& ctx) const override {
        if (present(ctx.roots))
            return {
                {"STUB-HOST", findings::Severity::pass, "stub GPU at " + stub_node(ctx.roots), ""}};
        return {{"STUB-NO-DRIVER", findings::Severity::fail, "no stub GPU", "set --stub-root"}};
    }
    std::vector<std::string> device_targets(const Roots& roots) const override {
        return present(roots) ? std::vector<std::string>{"stub1"} : std::vector<std::string>{};
    }
    std::vector<RootFlag> root_flags() const override { return {kStubRoot}; }
    std::string_view apptainer_flag() const override { return "--stub-gpus"; }
    std::string_view hide_env() const override { return "STUB_VISIBLE_DEVICES=void"; }
    std::string_view keep_arch_example() const override { return "stub1 (stub code)"; }
    const lint::RuleSet* lint_rules() const override { return &stub_lint_rules(); }
    std::unique_ptr<ImageFindings> analyze_findings() const override {
        return stub_analyze_findings();
    }
    std::vector<const device_code::Format*> device_code() const override {
        return {&stub_format()};
    }
    Toolchain toolchain() const override {
        static constexpr std::string_view programs[] = {"stubcc"};
        static constexpr std::string_view paths[] = {"opt/stub/tools/"};
        return {programs, paths};
    }
    std::span<const std::string_view> slurm_gpu_variables() const override {
        static constexpr std::string_view names[] = {"STUB_DEVICE_ORDINAL"};
        return names;
    }
};

} // namespace

const Backend& backend() {
    static const Stub instance;
    return instance;
}

} // namespace stub_vendor
