// The list of GPU vendors, how one is chosen for a host, and what goes over all of them.
#include "gpu_vendors/all/backends.hpp"

#include "gpu_host/gpus_flag.hpp"
#include "gpu_vendors/amd/backend.hpp"
#include "gpu_vendors/apply_plan.hpp"
#include "gpu_vendors/intel/backend.hpp"
#include "gpu_vendors/nvidia/backend.hpp"
#include "runspec/builder.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <algorithm>

namespace gantry::gpu_vendors {

namespace {

std::vector<const Backend*>& registered() {
    // One line per vendor; NVIDIA first: it is the default where several are present.
    static std::vector<const Backend*> all = {&nvidia::backend(), &amd::backend(),
                                              &intel::backend()};
    return all;
}

} // namespace

const std::vector<const Backend*>& backends() {
    return registered();
}

void register_backend(const Backend& backend) {
    for (const Backend* b : registered())
        if (b->name() == backend.name())
            throw Error(Errc::usage,
                        "GPU vendor \"" + std::string(backend.name()) + "\" is registered twice",
                        "give the new backend a name of its own");
    registered().push_back(&backend);
}

void unregister_backend(const Backend& backend) {
    auto& all = registered();
    all.erase(std::remove(all.begin(), all.end(), &backend), all.end());
}

std::vector<RootFlag> host_root_flags() {
    std::vector<RootFlag> flags;
    for (const Backend* b : backends())
        for (const RootFlag& f : b->root_flags())
            if (std::none_of(flags.begin(), flags.end(),
                             [&](const RootFlag& g) { return g.name == f.name; }))
                flags.push_back(f);
    return flags;
}

std::string root_flag_help(std::string_view name) {
    std::string help;
    std::vector<std::string_view> parts;
    for (const Backend* b : backends())
        for (const RootFlag& f : b->root_flags()) {
            if (f.name != name) continue;
            if (help.empty()) help = std::string(f.help);
            if (!f.vendor_help.empty() &&
                std::find(parts.begin(), parts.end(), f.vendor_help) == parts.end())
                parts.push_back(f.vendor_help);
        }
    if (!parts.empty()) {
        help += " (";
        for (std::size_t i = 0; i < parts.size(); ++i) (help += i ? "; " : "") += parts[i];
        help += ")";
    }
    return help;
}

std::vector<const device_code::Format*> device_code_formats() {
    std::vector<const device_code::Format*> formats;
    for (const Backend* b : backends())
        for (const device_code::Format* f : b->device_code()) formats.push_back(f);
    return formats;
}

std::vector<const lint::RuleSet*> lint_rule_sets() {
    std::vector<const lint::RuleSet*> sets;
    for (const Backend* b : backends())
        if (const lint::RuleSet* r = b->lint_rules()) sets.push_back(r);
    return sets;
}

std::vector<std::unique_ptr<ImageFindings>> analyze_findings() {
    std::vector<std::unique_ptr<ImageFindings>> out;
    for (const Backend* b : backends())
        if (auto f = b->analyze_findings()) out.push_back(std::move(f));
    return out;
}

std::vector<std::string> docker_runtimes() {
    std::vector<std::string> names;
    for (const Backend* b : backends())
        if (!b->docker_runtime().empty()) names.emplace_back(b->docker_runtime());
    return names;
}

std::string vendor_flag_help() {
    std::vector<std::string> names;
    for (const Backend* b : backends()) names.emplace_back(b->name());
    std::string listed = names.empty() ? std::string() : names.back();
    if (names.size() > 1)
        listed = text::join(std::vector<std::string>(names.begin(), names.end() - 1), ", ") +
                 " or " + listed;
    return listed + " (default: the vendor whose driver the host has; the first of " +
           text::join(names, ", ") + " when several)";
}

std::vector<std::string> hide_gpus_env() {
    std::vector<std::string> env;
    for (const Backend* b : backends())
        if (!b->hide_env().empty()) env.emplace_back(b->hide_env());
    return env;
}

std::vector<kernel_cache::Variable> kernel_cache_variables() {
    std::vector<kernel_cache::Variable> out = kernel_cache::neutral_variables();
    for (const Backend* b : backends())
        for (auto& v : b->kernel_cache_variables()) out.push_back(v);
    return out;
}

std::vector<kernel_cache::Disabler> kernel_cache_disablers() {
    std::vector<kernel_cache::Disabler> out = kernel_cache::neutral_disablers();
    for (const Backend* b : backends())
        for (auto& d : b->kernel_cache_disablers()) out.push_back(d);
    return out;
}

bool is_toolchain_program(std::string_view file_name) {
    for (const Backend* b : backends())
        for (std::string_view p : b->toolchain().programs)
            if (p == file_name) return true;
    return false;
}

bool in_toolchain_path(std::string_view path) {
    for (const Backend* b : backends())
        for (std::string_view p : b->toolchain().paths)
            if (path.find(p) != std::string_view::npos) return true;
    return false;
}

std::vector<std::string> slurm_gpu_variables() {
    std::vector<std::string> names;
    for (const Backend* b : backends())
        for (std::string_view v : b->slurm_gpu_variables())
            if (std::find(names.begin(), names.end(), v) == names.end()) names.emplace_back(v);
    return names;
}

std::vector<findings::Finding> doctor(const Backend& backend, const DoctorContext& ctx) {
    auto findings = backend.doctor(ctx);
    if (!ctx.image) return findings;
    for (const Backend* other : backends())
        if (other != &backend)
            if (auto f = other->image_without_host(*ctx.store, *ctx.image, ctx.roots))
                findings.push_back(std::move(*f));
    return findings;
}

const Backend& find(std::string_view name) {
    std::vector<std::string> names;
    for (const Backend* b : backends()) {
        if (b->name() == name) return *b;
        names.emplace_back(b->name());
    }
    throw Error(Errc::usage, "unknown GPU vendor \"" + std::string(name) + "\"",
                "use " + text::join(names, " or "));
}

const Backend& choose(const Roots& roots, const std::optional<std::string>& wanted) {
    if (wanted) return find(*wanted);
    // several present: the first in registry order (NVIDIA where it is one of them; an AMD GPU
    // beside an Intel iGPU stays AMD's); none: the default
    for (const Backend* b : backends())
        if (b->present(roots)) return *b;
    return *backends().front();
}

const Backend* for_run(const Roots& roots, const std::optional<std::string>& vendor_flag,
                       const std::vector<std::string>& env,
                       const std::optional<std::string>& gpus) {
    // --gpus driver=NAME (docker's, compose's `driver:`) names the vendor as --gpu-vendor does
    std::optional<std::string> wanted = vendor_flag;
    if (gpus)
        if (auto driver = gpu_host::parse_gpus_flag(*gpus).driver) {
            if (wanted && *wanted != *driver)
                throw Error(Errc::usage,
                            "--gpus driver=" + *driver + " and --gpu-vendor " + *wanted +
                                " name different GPU vendors",
                            "give one of them");
            if (std::none_of(backends().begin(), backends().end(),
                             [&](const Backend* b) { return b->name() == *driver; })) {
                std::vector<std::string> names;
                for (const Backend* b : backends()) names.emplace_back(b->name());
                throw Error(Errc::usage, "--gpus driver=" + *driver + ": no such GPU vendor",
                            "use driver=" + text::join(names, " or driver="));
            }
            wanted = driver;
        }
    // a vendor's own variable (AMD_VISIBLE_DEVICES) asks for that vendor's GPUs on a host that
    // has several vendors' (a node with NVIDIA and AMD GPUs): not the default vendor's
    if (!wanted)
        for (const Backend* b : backends())
            if (b->asked(env, std::nullopt) && b->present(roots)) return b;
    for (const Backend* b : backends())
        if (b->asked(env, gpus)) return &choose(roots, wanted);
    if (wanted) find(*wanted); // a misspelt --gpu-vendor is an error even without GPUs
    return nullptr;
}

namespace {

// "a, b and c"
std::string listed_with_and(const std::vector<std::string>& words) {
    if (words.size() < 2) return text::join(words, "");
    std::vector<std::string> head(words.begin(), words.end() - 1);
    return text::join(head, ", ") + " and " + words.back();
}

} // namespace

std::vector<std::string> host_targets(const Roots& roots) {
    std::vector<std::string> all;
    for (const Backend* b : backends()) {
        if (!b->present(roots)) continue;
        for (auto& t : b->device_targets(roots))
            if (std::find(all.begin(), all.end(), t) == all.end()) all.push_back(t);
    }
    if (all.empty()) {
        std::vector<std::string> examples, flags;
        for (const Backend* b : backends())
            examples.push_back("--keep-arch " + std::string(b->keep_arch_example()));
        for (const RootFlag& f : host_root_flags()) flags.emplace_back(f.name);
        throw Error(Errc::not_found, "--keep-arch host: this host has no GPU",
                    "name the GPUs to keep code for: " + text::join(examples, " or ") + "; " +
                        listed_with_and(flags) + " point at another host");
    }
    return all;
}

std::string keep_arch_list(const std::string& value, const Roots& roots) {
    return value == "host" ? text::join(host_targets(roots), ",") : value;
}

std::vector<findings::Finding> doctor_regressions(const Roots& roots, const store::Store& store,
                                                  const store::Image& before,
                                                  const store::Image& after, CallerIds caller,
                                                  const std::string& cache_dir) {
    std::vector<findings::Finding> out;
    for (const Backend* b : backends()) {
        if (!b->present(roots)) continue;
        auto failing = [&](const store::Image& img, const std::string& ref) {
            DoctorContext ctx{roots};
            ctx.store = &store;
            ctx.image = &img;
            ctx.ref = ref;
            ctx.env = runspec::environment(img.config.raw, runspec::RunOptions{});
            ctx.gpus = "all";
            ctx.cache_dir = cache_dir;
            ctx.caller = caller;
            std::vector<findings::Finding> fails;
            for (auto& f : doctor(*b, ctx))
                if (f.severity == findings::Severity::fail) fails.push_back(std::move(f));
            return fails;
        };
        auto was = failing(before, before.id().str());
        for (auto& f : failing(after, after.id().str()))
            if (std::none_of(was.begin(), was.end(),
                             [&](const findings::Finding& w) { return w.id == f.id; }))
                out.push_back(std::move(f));
    }
    return out;
}

std::vector<std::string> add_gpus(oci::RuntimeSpec& spec, const GpuContext& ctx,
                                  const std::optional<std::string>& wanted,
                                  const std::string& state_dir, std::vector<std::string>* warnings,
                                  AddedGpus* added) {
    const Backend* backend = for_run(ctx.roots, wanted, ctx.env, ctx.gpus);
    if (!backend) return {};
    GpuPlan plan = backend->plan(ctx);
    if (added) *added = {backend, plan.pci_functions};
    if (warnings) warnings->insert(warnings->end(), plan.warnings.begin(), plan.warnings.end());
    apply_policy(plan.findings, plan.override_by,
                 plan.how_to_override.empty() ? std::string(ctx.no_require_name) + " runs it anyway"
                                              : plan.how_to_override);
    return apply_plan(spec, *backend, plan, ctx, state_dir, warnings);
}

} // namespace gantry::gpu_vendors
