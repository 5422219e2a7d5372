#include "cli/context.hpp"
#include "rootfs/rootfs.hpp"
#include "runspec/builder.hpp"
#include "store/images.hpp"
#include "store/importer.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/identity.hpp"

#include <algorithm>
#include <cstdio>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::cli {

void register_bundle(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string image, dir;
        std::vector<std::string> command, env, volumes, ulimits;
        std::string workdir, user, shm_size;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "bundle", "Write an OCI runtime bundle (config.json + rootfs) that runc and crun run");
    cmd->add_option("image", o->image, "Image (name or ID)")->required();
    cmd->add_option("dir", o->dir, "Bundle directory to create")->required();
    cmd->add_option("-e,--env", o->env, "Set an environment variable")->allow_extra_args(false);
    cmd->add_option("-w,--workdir", o->workdir, "Working directory");
    cmd->add_option("-u,--user", o->user, "UID[:GID] to run as");
    cmd->add_option("-v,--volume", o->volumes, "Bind mount SRC:DST[:ro|rw]")
        ->allow_extra_args(false);
    cmd->add_option("--cmd", o->command, "Command (replaces the image's CMD)");
    cmd->add_option("--ulimit", o->ulimits, "Resource limit NAME=SOFT[:HARD] (process.rlimits)")
        ->allow_extra_args(false);
    cmd->add_option("--shm-size", o->shm_size, "Size of /dev/shm (default 64m)");
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            auto& store = ctx.store();
            auto img = store::find_image(store, o->image);
            struct stat st {};
            if (::lstat(o->dir.c_str(), &st) == 0 &&
                !(S_ISDIR(st.st_mode) && fs::stdfs::is_empty(o->dir)))
                throw Error(Errc::conflict, o->dir + " already exists and is not empty",
                            "give a new directory for the bundle");
            runspec::RunOptions ro;
            ro.command = o->command;
            ro.env = o->env;
            ro.workdir = o->workdir;
            ro.user = o->user;
            for (auto& v : o->volumes) ro.binds.push_back(runspec::parse_volume(v));
            ro.rlimits = runspec::parse_ulimits(o->ulimits);
            if (!o->shm_size.empty()) ro.shm_size = shm_size_flag(o->shm_size);
            ro.privileged_user = running_as_real_root();
            ro.host_uid = ::geteuid();
            ro.host_gid = ::getegid();
            ro.hostname = "gantry";
            auto passwd = rootfs::read_image_file(store, img.config.diff_ids, "etc/passwd");
            auto spec = runspec::build(img.config.raw, ro, passwd);
            // runc and crun provide the default device nodes themselves (bind-mounted when
            // rootless); gantry's own launcher binds them, so drop those mounts here.
            std::erase_if(spec.mounts, [](const oci::Mount& m) {
                return m.type == "bind" && m.source == m.destination &&
                       m.destination.rfind("/dev/", 0) == 0;
            });
            if (ro.privileged_user) { // runc/crun as root: no user namespace, like docker
                spec.namespaces.erase(
                    std::remove(spec.namespaces.begin(), spec.namespaces.end(), "user"),
                    spec.namespaces.end());
                spec.uid_mappings.clear();
                spec.gid_mappings.clear();
            }
            std::string tmp = o->dir + ".tmp-" + fs::unique_name();
            try {
                rootfs::flatten(store, img.config.diff_ids, tmp + "/rootfs", ro.privileged_user);
                fs::write_atomic(fs::stdfs::path(tmp) / "config.json",
                                 spec.to_json().dump(2) + "\n");
                if (::lstat(o->dir.c_str(), &st) == 0) ::rmdir(o->dir.c_str());
                if (::rename(tmp.c_str(), o->dir.c_str()) != 0)
                    throw_errno("cannot create " + o->dir);
            } catch (...) {
                fs::remove_tree(tmp);
                throw;
            }
            if (!ctx.quiet)
                std::fprintf(stderr, "Wrote OCI bundle %s for %s\n", o->dir.c_str(),
                             o->image.c_str());
            return 0;
        };
    });
}

} // namespace gantry::cli
