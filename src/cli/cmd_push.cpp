#include "cli/context.hpp"
#include "cli/registry_flags.hpp"
#include "lazy/writer.hpp"
#include "registry/push.hpp"
#include "sqsh/shared.hpp"
#include "store/images.hpp"
#include "util/error.hpp"
#include "util/units.hpp"

#include <cstdio>
#include <unistd.h>

namespace gantry::cli {

int publish_to_store(Context& ctx, const std::string& ref, const std::string& dir) {
    auto r = sqsh::publish(ctx.store(), ref, dir);
    if (!ctx.quiet)
        std::fprintf(stderr, "%s %s in %s (%s)\n", r.existed ? "Already there:" : "Published",
                     ref.c_str(), r.image.file.c_str(), human_size(r.bytes).c_str());
    std::printf("Published image: %s\nDigest: %s\n", r.image.ref.c_str(),
                r.image.manifest.str().c_str());
    return 0;
}

void register_push(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string src, dest, image_store, compression;
        std::uint64_t chunk_mb = 64;
        unsigned jobs = 3;
        bool quiet = false;
        RegistryFlags reg;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("push", "Push an image of the store to a registry");
    cmd->add_option("image", o->src, "Image in the store (name or ID)")->required();
    cmd->add_option("destination", o->dest,
                    "Registry reference to push to (default: the image's own name)");
    cmd->add_option("--chunk-size", o->chunk_mb,
                    "Blobs larger than this many MiB are uploaded in chunks of this size")
        ->capture_default_str()
        ->check(CLI::Range(1, 1 << 20));
    cmd->add_option("-j,--jobs", o->jobs, "Blobs uploaded at once")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
    cmd->add_flag("-q,--quiet", o->quiet, "No progress output");
    cmd->add_option("--image-store", o->image_store,
                    "Publish into this shared image store (a directory, e.g. on NFS) as one "
                    "squashfs file instead of to a registry");
    cmd->add_option("--compression", o->compression,
                    "estargz: push the layers re-written as eStargz (gzip, with a table of "
                    "contents) so that `gantry run --pull lazy` starts the image lazily; plain "
                    "clients still pull it (default: the layers as stored)");
    add_registry_flags(cmd, o->reg, true);
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            if (!o->image_store.empty()) {
                if (!o->dest.empty())
                    throw Error(Errc::usage, "push --image-store takes no destination",
                                "gantry push --image-store DIR IMAGE");
                return publish_to_store(ctx, o->src, o->image_store);
            }
            registry::PushOptions po;
            if (!o->compression.empty()) {
                if (o->compression != "estargz")
                    throw Error(Errc::usage,
                                "push --compression " + o->compression + " is not supported",
                                "use --compression estargz, or no --compression");
                po.manifest = lazy::convert_image(ctx.store(), store::resolve(ctx.store(), o->src));
            }
            po.client = client_options(o->reg);
            po.chunk_size = o->chunk_mb << 20;
            po.jobs = o->jobs;
            po.quiet = ctx.quiet || o->quiet;
            po.tty = ::isatty(2) == 1;
            auto r = registry::push(ctx.store(), o->src, o->dest, po);
            if (!po.quiet)
                std::fprintf(stderr, "%zu blobs: %zu uploaded, %zu already there, %zu mounted\n",
                             r.blobs, r.uploaded, r.existing, r.mounted);
            std::printf("Pushed image: %s\nDigest: %s\n", r.ref.c_str(), r.manifest.str().c_str());
            return 0;
        };
    });
}

} // namespace gantry::cli
