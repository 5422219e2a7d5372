// `gantry bundle IMAGE DIR`: its flags, bound to an engine::RunRequest, and engine::write_bundle.
#include "cli/context.hpp"
#include "cli/host_root_flags.hpp"
#include "engine/engine.hpp"
#include "gpu_vendors/all/backends.hpp"

#include <cstdio>

namespace gantry::cli {

void register_bundle(CLI::App& app, Context& ctx) {
    struct Opts {
        engine::RunRequest request;
        std::string dir;
    };
    auto o = std::make_shared<Opts>();
    auto& r = o->request;
    auto* cmd = app.add_subcommand(
        "bundle", "Write an OCI runtime bundle (config.json + rootfs) that runc and crun run");
    cmd->add_option("image", r.image, "Image (name or ID)")->required();
    cmd->add_option("dir", o->dir, "Bundle directory to create")->required();
    cmd->add_option("-e,--env", r.env, "Set an environment variable")->allow_extra_args(false);
    cmd->add_option("-w,--workdir", r.workdir, "Working directory");
    cmd->add_option("-u,--user", r.user, "UID[:GID] to run as");
    cmd->add_option("-v,--volume", r.volumes, "Bind mount SRC:DST[:ro|rw]")
        ->allow_extra_args(false);
    cmd->add_option("--cmd", r.command, "Command (replaces the image's CMD)");
    cmd->add_option("--ulimit", r.ulimits, "Resource limit NAME=SOFT[:HARD] (process.rlimits)")
        ->allow_extra_args(false);
    cmd->add_option("--shm-size", r.shm_size, "Size of /dev/shm (default 64m)");
    cmd->add_option("--gpus", r.gpus,
                    "GPUs to add (docker syntax), as the vendor's CDI edits with their hooks");
    cmd->add_option("--gpu-vendor", r.gpu_vendor, gpu_vendors::vendor_flag_help());
    add_host_root_flags(cmd, r.gpu_roots);
    cmd->add_option("--pull", r.pull,
                    "never (default: the store's image, flattened into DIR/rootfs) or lazy (an "
                    "eStargz or zstd:chunked image in its registry: DIR/rootfs stays empty and "
                    "`gantry oci` serves the root, fetched on first read; docs/lazy-pull.md)");
    auto tls = std::make_shared<bool>(true);
    auto* tls_opt = cmd->add_flag("--tls-verify", *tls,
                                  "With --pull lazy: verify the registry's TLS certificate "
                                  "(--tls-verify=false: also allow plain http)");
    cmd->callback([&ctx, o, tls, tls_opt] {
        if (tls_opt->count()) o->request.tls_verify = *tls;
        ctx.action = [&ctx, o] {
            engine::write_bundle(ctx.store(), o->request, o->dir, engine::Caller::current());
            if (!ctx.quiet)
                std::fprintf(stderr, "Wrote OCI bundle %s for %s\n", o->dir.c_str(),
                             o->request.image.c_str());
            return 0;
        };
    });
}

} // namespace gantry::cli
