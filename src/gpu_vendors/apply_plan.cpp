#include "gpu_vendors/apply_plan.hpp"

#include "cdi/registry.hpp"
#include "gpu_vendors/device_nodes.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/host_ldconfig.hpp"

#include <algorithm>
#include <map>

namespace gantry::gpu_vendors {

namespace {

constexpr const char* kLdcacheDropIn = "/etc/ld.so.conf.d/00-gantry-cdi.conf";

// "--name value" (or "--name=value") pairs after the subcommand (args: "gantry", "hook", SUB,
// ...), as the hook's command line reads them; a lone flag maps to "".
std::vector<std::pair<std::string, std::string>> hook_options(const cdi::Hook& h) {
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t i = 3; i < h.args.size(); ++i) {
        const std::string& a = h.args[i];
        if (!a.starts_with("--")) continue;
        if (auto eq = a.find('='); eq != std::string::npos) {
            out.emplace_back(a.substr(0, eq), a.substr(eq + 1));
            continue;
        }
        bool valued = i + 1 < h.args.size() && !h.args[i + 1].starts_with("--");
        out.emplace_back(a, valued ? h.args[i + 1] : std::string());
        if (valued) ++i;
    }
    return out;
}

void add_symlinks(oci::RuntimeSpec& spec, const cdi::Hook& h) {
    for (const auto& [name, value] : hook_options(h)) {
        auto sep = value.find("::");
        if (name != "--link" || sep == std::string::npos || sep == 0)
            throw Error(Errc::invalid,
                        "hook create-symlinks: invalid " + name + " \"" + value + "\"",
                        "use --link TARGET::/ABSOLUTE/LINK");
        spec.setup.symlinks.emplace_back(value.substr(sep + 2), value.substr(0, sep));
    }
}

void add_ldcache(oci::RuntimeSpec& spec, const cdi::Hook& h) {
    std::string folders, ldconfig;
    for (const auto& [name, value] : hook_options(h)) {
        if (name == "--folder")
            folders += value + "\n";
        else if (name == "--ldconfig-path")
            ldconfig = value;
        else
            throw Error(Errc::invalid, "hook update-ldcache: unknown option " + name);
    }
    if (!folders.empty()) {
        auto it = std::find_if(spec.setup.ld_conf.begin(), spec.setup.ld_conf.end(),
                               [](const auto& c) { return c.first == kLdcacheDropIn; });
        if (it == spec.setup.ld_conf.end())
            spec.setup.ld_conf.emplace_back(kLdcacheDropIn, folders);
        else
            it->second += folders;
    }
    spec.setup.ldconfig = true;
    spec.setup.host_ldconfig =
        ldconfig.empty() ? host_ldconfig::find() : host_ldconfig::resolve(ldconfig);
}

void add_overlays(oci::RuntimeSpec& spec, const VendorHook& vh, const cdi::Hook& h,
                  const std::string& state_dir) {
    std::map<std::string, std::string> values;
    for (const HookOption& o : vh.options) values[std::string(o.name)] = o.default_value;
    for (const auto& [name, value] : hook_options(h)) {
        if (!values.count(name))
            throw Error(Errc::invalid, "hook " + std::string(vh.name) + ": unknown option " + name);
        values[name] = value;
    }
    for (const FileOverlay& f : vh.overlays(values)) {
        if (state_dir.empty())
            throw Error(Errc::internal, "hook " + std::string(vh.name) +
                                            ": no container directory for its file overlays");
        std::string base = f.container_path.substr(f.container_path.rfind('/') + 1);
        std::string copy = state_dir + "/overlay-" + std::string(vh.name) + "-" + base;
        fs::write_atomic(copy, f.content, 0444, fs::Sync::volatile_only); // per container
        spec.setup.overlays.emplace_back(copy, f.container_path);
    }
}

// PLAN's spec with the additionalGids the caller cannot be given left out (see the header);
// *KEEP_GROUPS says whether some were, under subordinate-id maps.
cdi::Spec groups_for(const cdi::Spec& spec, const CallerIds& caller, bool* keep_groups) {
    cdi::Spec out = spec;
    if (caller.real_root) return out;
    auto drop = [&](cdi::ContainerEdits& e) {
        if (!e.additional_gids.empty() && caller.subid_maps) *keep_groups = true;
        e.additional_gids.clear();
    };
    drop(out.edits);
    for (auto& d : out.devices) drop(d.edits);
    return out;
}

} // namespace

bool do_own_hook(oci::RuntimeSpec& spec, const Backend& backend, const cdi::Hook& hook,
                 const std::string& gantry_path, const std::string& state_dir) {
    if (gantry_path.empty() || hook.path != gantry_path || hook.args.size() < 3 ||
        hook.args[1] != "hook")
        return false;
    const std::string& sub = hook.args[2];
    if (sub == "create-symlinks") {
        add_symlinks(spec, hook);
        return true;
    }
    if (sub == "update-ldcache") {
        add_ldcache(spec, hook);
        return true;
    }
    for (const VendorHook& vh : backend.hooks())
        if (vh.name == sub) {
            add_overlays(spec, vh, hook, state_dir);
            return true;
        }
    return false;
}

std::vector<std::string> apply_plan(oci::RuntimeSpec& spec, const Backend& backend,
                                    const GpuPlan& plan, const GpuContext& ctx,
                                    const std::string& state_dir,
                                    std::vector<std::string>* warnings) {
    if (plan.devices.empty()) return {};
    const bool run = ctx.door == Door::run;
    bool keep_groups = false;
    const cdi::Spec described = run ? groups_for(plan.spec, ctx.caller, &keep_groups) : plan.spec;
    std::vector<cdi::Selected> selected;
    for (const auto& name : plan.devices) {
        const cdi::Device* d = described.find(name);
        if (!d)
            throw Error(Errc::not_found,
                        described.kind + "=" + name + ": not in the description of this host",
                        "`gantry cdi generate --gpu-vendor " + std::string(backend.name()) +
                            "` lists what it has");
        selected.push_back({&described, d, "generated"});
    }
    cdi::ApplyOptions opt;
    opt.hooks_into_spec = !run;
    opt.allow_stand_in_nodes = true;
    opt.sort_mounts = !run;
    opt.keep_existing = run;
    oci::RuntimeSpec work = spec;
    auto result = cdi::apply(work, selected, opt);
    if (run) {
        for (const auto& h : result.hooks)
            if (!do_own_hook(work, backend, h, ctx.gantry_path, state_dir))
                work.hooks[h.hook_name].push_back(
                    oci::Hook{h.path, h.args, h.env, h.timeout, false});
        if (keep_groups) work.annotations[kKeepGroupsAnnotation] = "1";
    }
    spec = std::move(work);
    if (warnings) warnings->insert(warnings->end(), result.warnings.begin(), result.warnings.end());
    return result.devices;
}

} // namespace gantry::gpu_vendors
