#include "archive/load.hpp"
#include "archive/save.hpp"
#include "cli/context.hpp"
#include "engine/squashfs.hpp"
#include "site/file_signature.hpp"
#include "sqsh/load.hpp"
#include "store/importer.hpp"
#include "util/identity.hpp"

#include <chrono>
#include <cstdio>

namespace gantry::cli {

void register_load(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string path, input, platform, name;
        unsigned jobs = 0;
        bool quiet = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "load",
        "Load images from a docker save archive, an OCI archive, an OCI layout directory or a "
        "squashfs image (FILE.sqsh)");
    cmd->add_option("path", o->path,
                    "Archive file or OCI layout directory; none or - reads the archive from "
                    "standard input (as docker load)");
    cmd->add_option("-i,--input", o->input, "Same as PATH (docker compatibility)");
    cmd->add_option("--platform", o->platform,
                    "OS/ARCH[/VARIANT][,...]: the platforms to load from an index (docker 29's "
                    "list; default: every platform the archive holds)");
    cmd->add_option("--name", o->name,
                    "Repository for images the archive names only by tag; for a squashfs file, "
                    "its reference (default: the file's name, e.g. app.sqsh -> app:latest)");
    cmd->add_option("-j,--jobs", o->jobs, "Layers unpacked at once (default: CPUs)");
    cmd->add_flag("-q,--quiet", o->quiet,
                  "Print only the \"Loaded image\" lines (as docker load -q)");
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            archive::LoadOptions lo;
            if (!o->platform.empty()) lo.platforms = archive::parse_platforms(o->platform);
            lo.name = o->name;
            lo.jobs = o->jobs;
            lo.privileged = running_as_real_root();
            auto t0 = std::chrono::steady_clock::now();
            if (!o->input.empty() && !o->path.empty() && o->input != o->path)
                throw Error(Errc::usage, "two archives given: " + o->input + " (-i) and " + o->path,
                            "give one: gantry load -i FILE, or gantry load FILE");
            if (o->path.empty()) o->path = o->input;
            Fd spooled; // standard input's archive, copied into the store's tmp/ while loaded
            if (o->path.empty() || o->path == "-") {
                spooled = archive::spool_archive(ctx.store(), STDIN_FILENO, "standard input");
                o->path = "/proc/self/fd/" + std::to_string(spooled.get());
                lo.source = "standard input";
                if (sqsh::is_squashfs_file(o->path) && o->name.empty())
                    throw Error(Errc::usage, "a squashfs image on standard input has no file name",
                                "name it: gantry load --name NAME[:TAG] < FILE.sqsh");
            }
            if (sqsh::is_squashfs_file(o->path)) { // FILE.sqsh: one image, flattened
                site::verify_file(o->path);        // policy.json's "sif" scopes, as for a run
                auto r = sqsh::load(ctx.store(), o->path, o->name, lo.privileged,
                                    engine::squashfs_confinement());
                std::printf("Loaded image: %s\n", r.ref.c_str());
                if (!ctx.quiet && !o->quiet)
                    std::fprintf(stderr, "  id %s, manifest %s (squashfs%s, %llu entries)\n",
                                 r.config.short_id().c_str(), r.manifest.str().c_str(),
                                 r.had_header ? ""
                                 : r.sif      ? " of a SIF: Apptainer's metadata as its config"
                                              : " without a gantry header: empty config",
                                 static_cast<unsigned long long>(r.entries));
                return 0;
            }
            auto images = archive::load(ctx.store(), o->path, lo);
            double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            for (auto& img : images) {
                for (auto& r : img.refs) std::printf("Loaded image: %s\n", r.c_str());
                if (!ctx.quiet && !o->quiet)
                    std::fprintf(stderr, "  id %s, manifest %s (%s, %.2fs)\n",
                                 img.config.short_id().c_str(), img.manifest.str().c_str(),
                                 img.format.c_str(), s);
            }
            return 0;
        };
    });
}

} // namespace gantry::cli
