#include "analyze/analyze.hpp"
#include "analyze/licence_check.hpp"
#include "cli/context.hpp"
#include "cli/registry_flags.hpp"
#include "lazy/convert.hpp"
#include "lazy/squashfs_artifact.hpp"
#include "registry/push.hpp"
#include "registry/sign.hpp"
#include "site/sigstore.hpp"
#include "sqsh/shared.hpp"
#include "store/images.hpp"
#include "store/platforms.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/printable.hpp"
#include "util/units.hpp"

#include <cstdio>
#include <optional>
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

// The GPU vendor licence check before a registry push (analyze/licence_check.hpp): one line on
// stderr, and Error(policy) when the mode for the registry is refuse and a finding counts.
void check_licences(Context& ctx, const std::string& src, const std::string& dest,
                    const std::optional<std::string>& flag, bool quiet) {
    auto line = analyze::check_push_licences(ctx.store(), src, dest, flag);
    if (!quiet && !line.empty()) std::fprintf(stderr, "%s\n", text::printable(line).c_str());
}

// push --compression or --format of a name holding several platforms pushes one image (the
// name's default): said, with the flag that picks another.
void warn_one_of_several(const store::Store& store, const std::string& src) {
    std::string name;
    try {
        name = oci::Reference::parse(src).str();
    } catch (const Error&) {
        return; // an ID: one image
    }
    auto held = store::name_images(store, name);
    if (held.size() > 1)
        log::warn(src + " holds " + std::to_string(held.size()) +
                  " platforms; --compression and "
                  "--format push one image: the default one (" +
                  store::image_platform(store, store::resolve(store, src)).str() +
                  "); --platform P pushes another");
}

void register_push(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string src, dest, image_store, sign_by, sigstore_key, passphrase_file, compression,
            format, platform;
        std::optional<std::string> licence_check;
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
    cmd->add_option("--sign-by", o->sign_by,
                    "Sign the pushed manifest with this GPG key (simple signing, written where "
                    "registries.d's lookaside-staging says)");
    cmd->add_option("--sign-by-sigstore-private-key", o->sigstore_key,
                    "Sign with this cosign private key (a sigstore attachment in the registry)");
    cmd->add_option("--sign-passphrase-file", o->passphrase_file,
                    "Read the passphrase of --sign-by-sigstore-private-key's key from this file");
    cmd->add_option("--compression", o->compression,
                    "estargz or zstd:chunked: push the layers re-written as eStargz (gzip, with "
                    "a table of contents) or zstd:chunked (zstd frames, a table of contents and "
                    "a tar-split) so that `gantry run --pull lazy` starts the image lazily; "
                    "plain clients still pull it (default: the layers as stored)");
    cmd->add_option("--format", o->format,
                    "squashfs: push the image as one squashfs file (an OCI artifact, media type "
                    "application/vnd.gantry.image.squashfs) that `gantry run --pull lazy` mounts "
                    "straight from the registry; only gantry reads it (default: OCI layers)");
    cmd->add_option("--licence-check", o->licence_check,
                    "GPU vendor licence findings of the image (gantry analyze): refuse (exit 11, "
                    "nothing pushed), warn (print them) or off (default: the config file's "
                    "licence_check for the registry, else warn)");
    cmd->add_option("--platform", o->platform,
                    "OS/ARCH[/VARIANT]: of a name holding several platforms, push that one's "
                    "image alone under the destination, no index (docker 28's; default: every "
                    "platform and their index)");
    add_registry_flags(cmd, o->reg, true);
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            if ((!o->sign_by.empty() || !o->sigstore_key.empty()) && !o->image_store.empty())
                throw Error(Errc::usage, "--sign-by signs registry pushes, not --image-store",
                            "sign the squashfs file with gantry sign FILE --sign-by KEY");
            if (!o->image_store.empty()) {
                if (!o->dest.empty())
                    throw Error(Errc::usage, "push --image-store takes no destination",
                                "gantry push --image-store DIR IMAGE");
                return publish_to_store(ctx, o->src, o->image_store);
            }
            std::string passphrase;
            if (!o->sigstore_key.empty()) { // read before anything is pushed
                if (!o->passphrase_file.empty()) {
                    passphrase = fs::read_file(o->passphrase_file, 64u << 10);
                    while (passphrase.ends_with('\n') || passphrase.ends_with('\r'))
                        passphrase.pop_back(); // as podman reads it: the first line
                }
                // the key opens with this passphrase (else nothing is pushed)
                (void)site::sigstore_sign(registry::read_sigstore_key(o->sigstore_key), passphrase,
                                          "", o->sigstore_key);
            } else if (!o->passphrase_file.empty()) {
                throw Error(Errc::usage,
                            "--sign-passphrase-file needs --sign-by-sigstore-private-key",
                            "give the cosign key to sign with");
            }
            std::optional<registry::SignTarget> sign_to;
            if (!o->sign_by.empty())
                sign_to = registry::prepare_signing(
                    oci::Reference::parse(o->dest.empty() ? o->src : o->dest), o->sign_by);
            if (!o->format.empty() && o->format != "squashfs")
                throw Error(Errc::usage, "push --format " + o->format + " is not supported",
                            "use --format squashfs, or no --format");
            if (!o->format.empty() && !o->compression.empty())
                throw Error(Errc::usage, "push --format squashfs takes no --compression",
                            "the squashfs file is compressed itself (zstd)");
            std::optional<lazy::Compression> compression;
            if (!o->compression.empty())
                compression = lazy::parse_compression(o->compression, "push --compression");
            // --platform: that platform's image alone, named by its ID where a reference is read
            std::optional<oci::Digest> chosen;
            std::string image = o->src;
            if (!o->platform.empty()) {
                if (!o->image_store.empty())
                    throw Error(Errc::usage, "push --image-store takes no --platform",
                                "give the platform's image ID (gantry inspect --platform P -f "
                                "'{{.Id}}' IMAGE)");
                chosen =
                    store::resolve_platform(ctx.store(), o->src, oci::Platform::parse(o->platform));
                image = store::read_image(ctx.store(), *chosen).id().str();
            } else if (compression || !o->format.empty()) {
                warn_one_of_several(ctx.store(), o->src);
            }
            check_licences(ctx, image, o->dest.empty() ? o->src : o->dest, o->licence_check,
                           ctx.quiet || o->quiet);
            registry::PushOptions po;
            po.manifest = chosen;
            if (!o->format.empty()) po.manifest = lazy::publish_squashfs(ctx.store(), image);
            if (compression)
                po.manifest = lazy::convert_to(
                    ctx.store(), chosen ? *chosen : store::resolve(ctx.store(), o->src),
                    *compression);
            po.client = client_options(o->reg);
            po.chunk_size = o->chunk_mb << 20;
            po.jobs = o->jobs;
            po.quiet = ctx.quiet || o->quiet;
            po.tty = ::isatty(2) == 1;
            auto r = registry::push(ctx.store(), o->src, o->dest, po);
            if (!po.quiet)
                std::fprintf(stderr, "%zu blobs: %zu uploaded, %zu already there, %zu mounted\n",
                             r.blobs, r.uploaded, r.existing, r.mounted);
            if (r.platforms > 0)
                std::printf("Pushed image: %s (an index of %zu platforms)\nDigest: %s\n",
                            r.ref.c_str(), r.platforms, r.manifest.str().c_str());
            else
                std::printf("Pushed image: %s\nDigest: %s\n", r.ref.c_str(),
                            r.manifest.str().c_str());
            if (sign_to) {
                auto file = registry::sign_pushed(*sign_to, oci::Reference::parse(r.ref),
                                                  r.manifest, o->sign_by);
                std::printf("Signature: %s\n", file.c_str());
            }
            if (!o->sigstore_key.empty())
                std::printf("Signature: %s\n",
                            registry::sign_pushed_sigstore(po.client, oci::Reference::parse(r.ref),
                                                           r.manifest, o->sigstore_key, passphrase)
                                .c_str());
            return 0;
        };
    });
}

} // namespace gantry::cli
