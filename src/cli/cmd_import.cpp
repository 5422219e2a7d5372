// `gantry import`: an image of a root filesystem tar (image_build/import.hpp), as docker's.
#include "cli/context.hpp"
#include "image_build/import.hpp"
#include "util/identity.hpp"

#include <cstdio>

namespace gantry::cli {

void register_import(CLI::App& app, Context& ctx) {
    auto req = std::make_shared<image_build::ImportRequest>();
    auto* cmd = app.add_subcommand(
        "import",
        "Make an image of a root filesystem tar (a file, - for standard input, or a URL)");
    cmd->add_option("source", req->source,
                    "The tar: a file (plain, gzip, bzip2, xz, lzma or zstd), - for standard "
                    "input, or an http(s) URL")
        ->required();
    cmd->add_option("name", req->ref, "The image's name, NAME[:TAG]")->required();
    cmd->add_option("-c,--change", req->changes,
                    "Apply a Dockerfile instruction to the config: CMD, ENTRYPOINT, ENV, EXPOSE, "
                    "LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME or WORKDIR (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("-m,--message", req->message,
                    "The history entry's comment (default: \"Imported from SOURCE\")");
    cmd->add_option("--platform", req->platform,
                    "OS/ARCH[/VARIANT] the image is for (default: this host's)");
    cmd->footer("The tar's entries become the image's one layer as they are (owners and modes "
                "too); the store unpacks it as it does any layer, refusing unsafe entries. "
                "Unlike docker, a name is required: gantry import makes no untagged image.");
    cmd->callback([&ctx, req] {
        ctx.action = [&ctx, req] {
            req->privileged = running_as_real_root();
            auto r = image_build::import_rootfs(ctx.store(), *req);
            if (!ctx.quiet)
                std::fprintf(stderr, "Imported %s: %llu entries, id %s\n", r.ref.c_str(),
                             static_cast<unsigned long long>(r.entries),
                             r.config.short_id().c_str());
            std::printf("%s\n", r.config.str().c_str());
            return 0;
        };
    });
}

} // namespace gantry::cli
