#include "cli/context.hpp"
#include "cli/registry_flags.hpp"
#include "lazy/image.hpp"
#include "lazy/store_layers.hpp"
#include "registry/pull.hpp"
#include "sqsh_pull/pull.hpp"
#include "store/importer.hpp"
#include "util/error.hpp"
#include "util/identity.hpp"

#include <chrono>
#include <cstdio>
#include <unistd.h>

namespace gantry::cli {

void add_registry_flags(CLI::App* cmd, RegistryFlags& f, bool transfer) {
    f.cmd = cmd;
    cmd->add_flag("--tls-verify", f.tls_verify,
                  "Verify the registry's TLS certificate (--tls-verify=false: also allow plain "
                  "http; default: verify unless registries.conf says insecure = true)");
    cmd->add_option("--cert-dir", f.cert_dir,
                    "Directory with CA certificates (*.crt) and client.cert/client.key");
    cmd->add_option("--authfile", f.authfile, "Auth file to use instead of the default ones");
    if (!transfer) return;
    cmd->add_option("--creds", f.creds, "USER[:PASSWORD] for the registry (no login needed)");
    cmd->add_option("--retry", f.retries, "Extra attempts after network errors, 5xx and 429")
        ->capture_default_str();
    cmd->add_option("--retry-delay", f.retry_delay,
                    "Seconds before the first retry (doubled each time)")
        ->capture_default_str();
}

void add_signature_policy_flag(CLI::App* cmd, RegistryFlags& f) {
    cmd->add_option("--signature-policy", f.signature_policy,
                    "policy.json to check pulled images against (default: "
                    "$CONTAINERS_POLICY_JSON, ~/.config/containers/, /etc/containers/)");
}

registry::ClientOptions client_options(const RegistryFlags& f) {
    registry::ClientOptions o;
    if (f.cmd && f.cmd->count("--tls-verify")) o.tls_verify = f.tls_verify;
    o.cert_dir = f.cert_dir;
    o.authfile = f.authfile;
    o.retries = f.retries;
    o.retry_delay = f.retry_delay;
    if (!f.creds.empty()) {
        auto colon = f.creds.find(':');
        registry::Credentials c{f.creds.substr(0, colon),
                                colon == std::string::npos ? "" : f.creds.substr(colon + 1),
                                "--creds"};
        if (c.username.empty())
            throw Error(Errc::usage, "--creds needs USER[:PASSWORD]",
                        "for example --creds alice:secret");
        o.creds = c;
    }
    return o;
}

void register_pull(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string ref, platform, format, output, image_store;
        unsigned jobs = 0;
        bool quiet = false;
        bool lazy = false;
        bool all_platforms = false;
        RegistryFlags reg;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("pull", "Pull an image from a registry into the store");
    cmd->add_option("image", o->ref, "Image reference: [REGISTRY/]REPO[:TAG|@sha256:DIGEST]")
        ->required();
    cmd->add_option("--platform", o->platform,
                    "OS/ARCH[/VARIANT] to pick from a multi-platform image (default: this host)");
    cmd->add_flag("-a,--all-platforms", o->all_platforms,
                  "Every platform of a multi-platform image, all held by the one name "
                  "(docs/platforms.md)");
    cmd->add_option("-j,--jobs", o->jobs,
                    "Layers downloaded and unpacked at once (default: 3 or the CPUs)");
    cmd->add_flag("-q,--quiet", o->quiet, "No progress output");
    cmd->add_option("--format", o->format,
                    "squashfs: the image as one squashfs file instead of into the store: into "
                    "-o FILE, --image-store DIR, or the node's squashfs cache (run finds it); "
                    "sif: as an Apptainer SIF file, into -o FILE");
    cmd->add_option("-o,--output", o->output, "With --format squashfs: the file to write");
    cmd->add_option("--image-store", o->image_store,
                    "With --format squashfs: publish into this shared image store");
    cmd->add_flag("--lazy", o->lazy,
                  "Fetch only the manifest, config and tables of contents of an eStargz image: "
                  "`gantry run --pull lazy` then starts it at once, file contents fetched on "
                  "first read (docs/lazy-pull.md)");
    add_registry_flags(cmd, o->reg, true);
    add_signature_policy_flag(cmd, o->reg);
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            registry::PullOptions po;
            po.client = client_options(o->reg);
            if (!o->platform.empty()) po.platform = oci::Platform::parse(o->platform);
            po.jobs = o->jobs;
            po.quiet = ctx.quiet || o->quiet;
            po.tty = ::isatty(2) == 1;
            po.interactive = ::isatty(0) == 1 && ::isatty(1) == 1;
            po.signature_policy = o->reg.signature_policy;
            po.privileged = running_as_real_root();
            po.all_platforms = o->all_platforms;
            if (po.all_platforms && (po.platform || o->lazy || !o->format.empty()))
                throw Error(Errc::usage,
                            "pull --all-platforms goes with neither --platform, --lazy nor "
                            "--format",
                            "pull the platforms into the store, or one with --platform");
            auto t0 = std::chrono::steady_clock::now();
            const bool sif = o->format == "sif";
            if (!o->format.empty() && o->format != "squashfs" && o->format != "sqsh" && !sif)
                throw Error(Errc::usage, "pull --format " + o->format + " is not a format",
                            "use --format squashfs or sif, or no --format for the store");
            if (sif && (o->output.empty() || !o->image_store.empty()))
                throw Error(Errc::usage, "pull --format sif writes one file: give -o FILE.sif",
                            "gantry pull --format sif -o FILE.sif REF (shared image stores and "
                            "the node's cache hold squashfs files)");
            if (o->format.empty() && (!o->output.empty() || !o->image_store.empty()))
                throw Error(Errc::usage, "-o and --image-store go with --format squashfs",
                            "gantry pull --format squashfs -o FILE REF");
            if (o->lazy) {
                if (!o->format.empty())
                    throw Error(Errc::usage, "pull --lazy takes no --format",
                                "gantry pull --lazy IMAGE, then gantry run --pull lazy IMAGE");
                auto r = lazy::pull(ctx.store(), o->ref, po);
                std::printf("Pulled image lazily: %s\nDigest: %s\n", r.ref.c_str(),
                            r.manifest.str().c_str());
                return 0;
            }
            if (!o->format.empty()) {
                if (!o->output.empty() && !o->image_store.empty())
                    throw Error(Errc::usage, "give -o FILE or --image-store DIR, not both");
                auto r = sqsh_pull::pull(ctx.store(), o->ref, po, {o->output, o->image_store, sif});
                double s =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                if (!po.quiet)
                    std::fprintf(stderr, "%s %s (%s) in %.2fs\n",
                                 r.cached ? "Already in the squashfs cache:" : "Wrote",
                                 r.file.c_str(), human_size(r.bytes).c_str(), s);
                std::printf("Pulled image: %s\nDigest: %s\nFile: %s\n", r.ref.c_str(),
                            r.manifest.str().c_str(), r.file.c_str());
                return 0;
            }
            if (auto rec = lazy::find(ctx.store(), o->ref);
                rec && lazy::complete(ctx.store(), *rec, po)) {
                std::printf("Pulled image: %s\nDigest: %s\n", rec->ref.c_str(),
                            rec->manifest.str().c_str());
                return 0;
            }
            auto r = registry::pull(ctx.store(), o->ref, po);
            double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (!po.quiet)
                std::fprintf(stderr, "%zu of %zu layers fetched (%s) in %.2fs\n", r.layers_fetched,
                             r.layers,
                             human_size(static_cast<std::uint64_t>(r.fetched_bytes)).c_str(), s);
            if (r.platforms.size() > 1) {
                std::string all;
                for (auto& p : r.platforms) all += (all.empty() ? "" : ", ") + p.str();
                std::printf("Pulled image: %s (%s)\n", r.ref.c_str(), all.c_str());
                return 0;
            }
            std::printf("Pulled image: %s\nDigest: %s\n", r.ref.c_str(), r.manifest.str().c_str());
            return 0;
        };
    });
}

} // namespace gantry::cli
