#include "cli/context.hpp"
#include "gpu_vendors/nvidia/host.hpp"
#include "runtime/hooks.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

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

    auto params = std::make_shared<std::string>("/proc/driver/nvidia/params");
    auto* dm = hook->add_subcommand("disable-device-node-modification",
                                    "Overlay /proc/driver/nvidia/params with ModifyDeviceFiles: 0");
    dm->add_option("--params", *params, "The host's params file");
    dm->callback([&ctx, params] {
        ctx.action = [params] {
            std::string root = runtime::root_from_state(read_state()); // read it in any case
            std::optional<std::string> text;
            try {
                text = gpu_vendors::nvidia::params_for_container(fs::read_file(*params, 1 << 20));
            } catch (const Error&) { // no driver params on this host: nothing to disable
            }
            if (text) runtime::hook_overlay_file(root, "proc/driver/nvidia/params", *text);
            return 0;
        };
    });
}

} // namespace gantry::cli
