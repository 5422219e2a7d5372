#include "archive/save.hpp"
#include "cli/context.hpp"
#include "lazy/convert.hpp"
#include "sqsh/write.hpp"

#include <cstdio>
#include <optional>
#include <unistd.h>

namespace gantry::cli {

void register_save(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> refs;
        std::string output, format = "docker-archive", image_store, compression, platform;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd =
        app.add_subcommand("save", "Save images to a docker-archive, oci-archive or oci-dir");
    cmd->add_option("image", o->refs, "Images (names or IDs)")->required();
    auto* out =
        cmd->add_option("-o,--output", o->output,
                        "Output file (archives; default: standard output, as docker save) or "
                        "directory (oci-dir)");
    cmd->add_option("--image-store", o->image_store,
                    "With --format squashfs: publish into this shared image store instead of -o")
        ->excludes(out);
    cmd->add_option("--format", o->format,
                    "docker-archive (default), oci-archive, oci-dir, squashfs (one image, "
                    "flattened, for `gantry run FILE.sqsh`) or sif (that squashfs in an "
                    "Apptainer SIF, with its runscript, environment and labels)");
    cmd->add_option("--compression", o->compression,
                    "estargz or zstd:chunked: save the layers re-written as `push --compression` "
                    "writes them, for a lazy start once pushed (with --format oci-archive or "
                    "oci-dir; default: the layers as stored)");
    cmd->add_option(
        "--platform", o->platform,
        "OS/ARCH[/VARIANT][,...]: of a name holding several platforms, only these "
        "(docker 28's, a list as docker 29's; by default all of them with the OCI formats)");
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            bool sqsh = o->format == "squashfs" || o->format == "sqsh";
            bool sif = o->format == "sif";
            std::vector<oci::Platform> platforms;
            if (!o->platform.empty()) {
                platforms = archive::parse_platforms(o->platform);
                if (sqsh || sif || !o->image_store.empty())
                    throw Error(Errc::usage, "save --format " + o->format + " takes no --platform",
                                "a squashfs file holds one image: give its ID, gantry save "
                                "--format " +
                                    o->format + " -o FILE $(gantry inspect --platform " +
                                    o->platform + " -f '{{.Id}}' IMAGE)");
            }
            std::optional<lazy::Compression> compression;
            if (!o->compression.empty()) {
                compression = lazy::parse_compression(o->compression, "save --compression");
                if (sqsh || sif || !o->image_store.empty())
                    throw Error(Errc::usage,
                                std::string("save --format ") + (sif ? "sif" : "squashfs") +
                                    " takes no --compression",
                                "the squashfs file is compressed itself (zstd); use --format "
                                "oci-archive or oci-dir with --compression");
            }
            if (!o->image_store.empty()) {
                if (!sqsh)
                    throw Error(Errc::usage, "--image-store holds squashfs images",
                                "add --format squashfs");
                for (auto& r : o->refs) publish_to_store(ctx, r, o->image_store);
                return 0;
            }
            if (o->output.empty() || o->output == "-") { // docker's: the tar on standard output
                if (sqsh || sif)
                    throw Error(Errc::usage,
                                "save --format " + o->format +
                                    " needs -o FILE (or --image-store DIR)",
                                "gantry save --format " + o->format + " -o FILE IMAGE");
                if (::isatty(STDOUT_FILENO))
                    throw Error(Errc::usage,
                                "save writes the archive to standard output, which is a terminal",
                                "give a file (gantry save -o FILE IMAGE) or redirect (gantry save "
                                "IMAGE > FILE)");
                o->output = "-";
            }
            if (sqsh || sif) {
                if (o->refs.size() != 1)
                    throw Error(Errc::usage, "--format " + o->format + " saves one image per file",
                                "run gantry save once per image");
                auto r = sif ? sqsh::save_sif(ctx.store(), o->refs[0], o->output)
                             : sqsh::save(ctx.store(), o->refs[0], o->output);
                if (!ctx.quiet)
                    std::fprintf(
                        stderr, "Saved %s to %s (%s, %llu entries, %s)\n", o->refs[0].c_str(),
                        o->output.c_str(), sif ? "SIF, a squashfs partition" : "squashfs",
                        static_cast<unsigned long long>(r.entries), human_size(r.bytes).c_str());
                return 0;
            }
            auto fmt = archive::parse_save_format(o->format);
            archive::ManifestRewrite rewrite;
            if (compression) {
                store::Store* st = &ctx.store();
                auto c = *compression;
                rewrite = [st, c](const oci::Digest& m) { return lazy::convert_to(*st, m, c); };
            }
            auto r = archive::save(ctx.store(), o->refs, o->output, fmt, rewrite, platforms);
            if (!ctx.quiet)
                std::fprintf(stderr, "Saved %llu image(s) to %s (%s)\n",
                             static_cast<unsigned long long>(r.images),
                             o->output == "-" ? "standard output" : o->output.c_str(),
                             human_size(r.bytes).c_str());
            return 0;
        };
    });
}

} // namespace gantry::cli
