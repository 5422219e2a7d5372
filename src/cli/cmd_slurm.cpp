// `gantry __slurm-gpu-vendors` (hidden): what the Slurm plugin (src/spank/gpus.c) asks the gantry
// binary it runs, once per node and step, of the registered GPU vendors: the variables Slurm's
// gres/gpu sets to a step's GPUs (Backend::slurm_gpu_variables), which the plugin reads the
// step's GPUs from and renumbers for the container, and the host-root flags (host_root_flags),
// which plugstack.conf's NAME_root= arguments name. One `variable NAME` or `root-flag --NAME`
// per line; the plugin names no vendor.
#include "cli/context.hpp"
#include "gpu_vendors/all/backends.hpp"

#include <cstdio>

namespace gantry::cli {

void register_slurm_gpu_vendors(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("__slurm-gpu-vendors",
                                   "The GPU vendors' Slurm variables and host-root flags");
    cmd->group(""); // hidden
    cmd->callback([&ctx] {
        ctx.action = [] {
            for (const std::string& name : gpu_vendors::slurm_gpu_variables())
                std::printf("variable %s\n", name.c_str());
            for (const gpu_vendors::RootFlag& f : gpu_vendors::host_root_flags())
                std::printf("root-flag %.*s\n", static_cast<int>(f.name.size()), f.name.data());
            return 0;
        };
    });
}

} // namespace gantry::cli
