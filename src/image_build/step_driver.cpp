#include "image_build/step_driver.hpp"

#include "util/text.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

namespace gantry::image_build {
namespace {

std::string path_in_root(std::string p) {
    while (p.starts_with('/')) p.erase(0, 1);
    while (p.ends_with('/')) p.pop_back();
    return p;
}

std::string dir_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

void add_once(std::vector<std::string>& list, const std::string& item) {
    if (!item.empty() && std::find(list.begin(), list.end(), item) == list.end())
        list.push_back(item);
}

// A hook's subcommand: gantry's (`gantry hook NAME`) and nvidia-ctk's (`nvidia-cdi-hook NAME`,
// `nvidia-ctk hook NAME`) take the same words.
bool hook_is(const oci::Hook& h, std::string_view name) {
    return std::find(h.args.begin(), h.args.end(), name) != h.args.end();
}

// The values of --FLAG VALUE and --FLAG=VALUE in ARGS.
std::vector<std::string> flag_values(const std::vector<std::string>& args, std::string_view flag) {
    std::vector<std::string> out;
    std::string eq = std::string(flag) + "=";
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == flag && i + 1 < args.size())
            out.push_back(args[++i]);
        else if (args[i].starts_with(eq))
            out.push_back(args[i].substr(eq.size()));
    }
    return out;
}

} // namespace

InjectionTraces confine_injection(oci::RuntimeSpec& spec) {
    InjectionTraces t;
    std::vector<std::string> lib_dirs;
    // the linker set-up: drop-ins and ldconfig become LD_LIBRARY_PATH, in the order ldconfig
    // reads the drop-ins (by name: a CUDA forward-compat directory before the driver's)
    auto drop_ins = spec.setup.ld_conf;
    std::sort(drop_ins.begin(), drop_ins.end());
    for (const auto& [file, content] : drop_ins)
        for (auto line : text::split(content, '\n'))
            if (line.starts_with('/')) add_once(lib_dirs, std::string(text::trim(line)));
    for (const auto& m : spec.mounts) {
        auto base = m.destination.substr(m.destination.rfind('/') + 1);
        if (m.type == "bind" && base.find(".so") != std::string::npos)
            add_once(lib_dirs, dir_of(m.destination));
    }
    spec.setup.ld_conf.clear();
    spec.setup.ldconfig = false;
    spec.setup.host_ldconfig.clear();
    for (const auto& [link, target] : spec.setup.symlinks) t.symlinks[path_in_root(link)] = target;
    // CDI hooks: update-ldcache the same way; create-symlinks' links recorded
    for (auto& [when, hooks] : spec.hooks) {
        std::vector<oci::Hook> kept;
        for (auto& h : hooks) {
            if (hook_is(h, "update-ldcache")) {
                for (const auto& f : flag_values(h.args, "--folder")) add_once(lib_dirs, f);
                continue;
            }
            if (hook_is(h, "create-symlinks"))
                for (const auto& l : flag_values(h.args, "--link")) {
                    auto sep = l.find("::");
                    if (sep != std::string::npos)
                        t.symlinks[path_in_root(l.substr(sep + 2))] = l.substr(0, sep);
                }
            kept.push_back(std::move(h));
        }
        hooks = std::move(kept);
    }
    std::erase_if(spec.hooks, [](const auto& kv) { return kv.second.empty(); });
    if (lib_dirs.empty()) return t;
    std::string path = text::join(lib_dirs, ":");
    auto it = std::find_if(spec.env.begin(), spec.env.end(),
                           [](const std::string& e) { return e.starts_with("LD_LIBRARY_PATH="); });
    if (it == spec.env.end()) {
        spec.env.push_back("LD_LIBRARY_PATH=" + path);
    } else {
        std::string old = it->substr(16);
        *it = "LD_LIBRARY_PATH=" + path + (old.empty() ? "" : ":" + old);
    }
    return t;
}

} // namespace gantry::image_build
