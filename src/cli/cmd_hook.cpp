#include "cli/context.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "runtime/hooks.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <map>
#include <unistd.h>

namespace gantry::cli {

namespace {
// The container state an OCI runtime passes a hook on stdin (a small JSON document).
std::string read_state() {
    return fs::read_stream(0, 1 << 20, "the container state on stdin");
}
} // namespace

void register_hook(CLI::App& app, Context& ctx) {
    auto* hook = app.add_subcommand("hook", "OCI hooks for CDI specs (run by podman, crun, runc)");
    hook->require_subcommand(1);

    auto links = std::make_shared<std::vector<std::string>>();
    auto* sym = hook->add_subcommand("create-symlinks", "Create symlinks in the container's root");
    sym->add_option("--link", *links, "TARGET::LINK (repeatable)")->allow_extra_args(false);
    sym->callback([&ctx, links] {
        ctx.action = [links] {
            std::vector<std::pair<std::string, std::string>> pairs;
            for (auto& l : *links) {
                auto sep = l.find("::");
                if (sep == std::string::npos || sep == 0 || l.size() < sep + 3 || l[sep + 2] != '/')
                    throw Error(Errc::usage, "invalid --link \"" + l + "\"",
                                "use --link TARGET::/ABSOLUTE/LINK");
                pairs.emplace_back(l.substr(0, sep), l.substr(sep + 2));
            }
            runtime::hook_create_symlinks(runtime::root_from_state(read_state()), pairs);
            return 0;
        };
    });

    struct LdOpts {
        std::vector<std::string> folders;
        std::string ldconfig; // default: host_ldconfig::find()
    };
    auto lo = std::make_shared<LdOpts>();
    auto* ld = hook->add_subcommand("update-ldcache", "Rebuild the container's ld.so.cache");
    ld->add_option("--folder", lo->folders, "Library folder to add (repeatable)")
        ->allow_extra_args(false);
    ld->add_option("--ldconfig-path", lo->ldconfig,
                   "The host's ldconfig binary (default: the first ELF of /sbin/ldconfig.real, "
                   "/sbin/ldconfig, /usr/sbin/ldconfig.real, /usr/sbin/ldconfig)");
    ld->callback([&ctx, lo] {
        ctx.action = [lo] {
            runtime::hook_update_ldcache(runtime::root_from_state(read_state()), lo->folders,
                                         lo->ldconfig);
            return 0;
        };
    });

    // the vendors' own hooks (gpu_vendors::Backend::hooks), each a subcommand with its options
    for (const gpu_vendors::Backend* b : gpu_vendors::backends())
        for (const gpu_vendors::VendorHook& vh : b->hooks()) {
            auto values = std::make_shared<std::map<std::string, std::string>>();
            auto* sub = hook->add_subcommand(std::string(vh.name), std::string(vh.help));
            for (const gpu_vendors::HookOption& o : vh.options) {
                auto& value = (*values)[std::string(o.name)];
                value = o.default_value;
                sub->add_option(std::string(o.name), value, std::string(o.help));
            }
            auto overlays = vh.overlays;
            sub->callback([&ctx, values, overlays] {
                ctx.action = [values, overlays] {
                    std::string root = runtime::root_from_state(read_state()); // read it anyway
                    for (const gpu_vendors::FileOverlay& f : overlays(*values))
                        if (auto at = f.container_path.find_first_not_of('/');
                            at != std::string::npos) // a file's path, relative to the root
                            runtime::hook_overlay_file(root, f.container_path.substr(at),
                                                       f.content);
                    return 0;
                };
            });
        }
}

} // namespace gantry::cli
