// gantry k8s install | uninstall: containerd's config.toml edited for a gantry runtime class
// (k8s/containerd_config), the RuntimeClass object printed. The CLI only binds the flags.
#include "cli/context.hpp"
#include "k8s/containerd_config.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <cstdio>
#include <filesystem>

namespace gantry::cli {

namespace {

struct K8sOpts {
    std::string config, runtime_class = "gantry", binary;
    bool set_as_default = false, dry_run = false;
};

// --binary's default: the gantry-oci installed beside this gantry (the .deb's /usr/bin/gantry-oci)
std::string k8s_default_binary() {
    std::filesystem::path p = std::filesystem::path(fs::self_exe()).parent_path() / "gantry-oci";
    std::error_code ec;
    if (!std::filesystem::exists(p, ec))
        throw Error(Errc::not_found, p.string() + " does not exist",
                    "give the gantry-oci for containerd to run with --binary PATH (the .deb "
                    "installs /usr/bin/gantry-oci)");
    return p.string();
}

void k8s_report(const k8s::FileEdit& r, const K8sOpts& o) {
    if (o.dry_run && r.edit.changed) {
        std::fwrite(r.edit.text.data(), 1, r.edit.text.size(), stdout);
        log::note(r.edit.summary + " (dry run: " + o.config + " not changed; the config above " +
                  "is what would be written)");
        return;
    }
    log::note(r.edit.summary +
              (r.edit.changed ? " (" + o.config + " written" +
                                    (r.backup.empty() ? "" : ", the old one kept as " + r.backup) +
                                    "; restart containerd)"
                              : ""));
}

void k8s_common_flags(CLI::App* cmd, K8sOpts& o) {
    cmd->add_option("--containerd-config", o.config,
                    "containerd's config.toml to edit (created when absent)")
        ->required();
    cmd->add_option("--runtime-class", o.runtime_class,
                    "The runtime handler's (and RuntimeClass's) name (default gantry)");
    cmd->add_flag("--dry-run", o.dry_run, "Write nothing: print the config that would be written");
}

} // namespace

void register_k8s(CLI::App& app, Context& ctx) {
    auto* k8s = app.add_subcommand(
        "k8s", "Set up a Kubernetes node's containerd to run pods with gantry-oci");
    k8s->require_subcommand(1);

    auto io = std::make_shared<K8sOpts>();
    auto* inst = k8s->add_subcommand(
        "install", "Add the gantry runtime handler to containerd's config; print the RuntimeClass");
    k8s_common_flags(inst, *io);
    inst->add_option("--binary", io->binary,
                     "The gantry-oci containerd's shim runs (default: the one beside this gantry)");
    inst->add_flag("--set-as-default", io->set_as_default,
                   "Also make it containerd's default runtime (default_runtime_name)");
    inst->callback([&ctx, io] {
        ctx.action = [io] {
            k8s::InstallOptions opts{io->runtime_class,
                                     io->binary.empty() ? k8s_default_binary() : io->binary,
                                     io->set_as_default};
            auto r = k8s::apply_to_file(
                io->config,
                [&](const std::string& text) {
                    k8s::refuse_cri_in_imports(text, io->config);
                    return k8s::install(text, io->config, opts);
                },
                io->dry_run);
            k8s_report(r, *io);
            if (!io->dry_run || !r.edit.changed)
                std::fputs(k8s::runtime_class_yaml(io->runtime_class).c_str(), stdout);
            return 0;
        };
    });

    auto uo = std::make_shared<K8sOpts>();
    auto* un = k8s->add_subcommand("uninstall",
                                   "Remove what gantry k8s install added to containerd's config");
    k8s_common_flags(un, *uo);
    un->callback([&ctx, uo] {
        ctx.action = [uo] {
            auto r = k8s::apply_to_file(
                uo->config,
                [&](const std::string& text) {
                    return k8s::uninstall(text, uo->config, uo->runtime_class);
                },
                uo->dry_run);
            k8s_report(r, *uo);
            return 0;
        };
    });
}

} // namespace gantry::cli
