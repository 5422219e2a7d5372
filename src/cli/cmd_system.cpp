#include "cli/context.hpp"
#include "cli/host_root_flags.hpp"
#include "engine/boot.hpp"
#include "engine/lifecycle.hpp"
#include "engine/request_json.hpp"
#include "engine/reset.hpp"
#include "engine_api/server.hpp"
#include "oci/image.hpp"
#include "sqsh/cache.hpp"
#include "store/gc.hpp"
#include "store/layer_tar.hpp"
#include "store/migrate.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/printable.hpp"
#include "util/units.hpp"

#include <cctype>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace gantry::cli {

// cmd_system_space.cpp
void register_system_space(CLI::App& sys, Context& ctx);

void register_system(CLI::App& app, Context& ctx) {
    auto* sys = app.add_subcommand("system", "Manage the image store; serve the Docker Engine API");
    sys->require_subcommand(1);

    register_system_space(*sys, ctx); // df, prune

    // podman's `system reset`: engine/reset.hpp decides and removes; here only the prompt
    auto force = std::make_shared<bool>(false);
    auto* reset = sys->add_subcommand(
        "reset", "Remove the whole store: every image, layer, cache and container (stopped first)");
    reset->add_flag("-f,--force", *force, "Do not prompt for confirmation");
    reset->callback([&ctx, force] {
        ctx.action = [&ctx, force] {
            records::StateDir states;
            auto plan = engine::plan_reset(ctx.store_root(), states);
            if (!*force) {
                if (!::isatty(STDIN_FILENO))
                    throw Error(Errc::usage,
                                "system reset asks for confirmation and standard input is not a "
                                "terminal: nothing was removed",
                                "run `gantry system reset --force` to reset without the question");
                std::printf("%sAre you sure you want to continue? [y/N] ",
                            engine::describe(plan).c_str());
                std::fflush(stdout);
                char line[64] = {};
                std::string answer = std::fgets(line, sizeof line, stdin) ? line : "";
                while (!answer.empty() && std::isspace(static_cast<unsigned char>(answer.back())))
                    answer.pop_back();
                if (answer != "y" && answer != "Y" && answer != "yes" && answer != "YES") {
                    std::printf("Nothing was removed\n");
                    return 0;
                }
            }
            auto r = engine::reset(plan, states);
            std::printf("Removed %zu container(s) and %s\n", r.containers,
                        plan.exists
                            ? ("the store " + plan.root.string()).c_str()
                            : ("no store (there was none at " + plan.root.string() + ")").c_str());
            return 0;
        };
    });

    // the Docker Engine API on a socket: engine_api/ serves it; here only the flags
    struct ServiceOpts {
        double time = 5;
        std::string uri, group, tls_cert, tls_key, tls_ca;
        gpu_vendors::Roots roots;          // --driver-root, ...: the GPU host of its containers
        std::vector<std::string> cdi_dirs; // --cdi-spec-dir
    };
    auto so = std::make_shared<ServiceOpts>();
    auto* service = sys->add_subcommand(
        "service",
        "Serve the Docker Engine API (1.41) on a unix socket (or TCP), for docker's CLI and "
        "docker-py (DOCKER_HOST), until idle");
    service
        ->add_option("-t,--time", so->time,
                     "Exit after this many seconds with no connection (default 5; 0: never)")
        ->check(CLI::NonNegativeNumber);
    service->add_option(
        "uri", so->uri,
        "Where to listen: unix:///PATH or tcp://HOST:PORT (default unix://$XDG_RUNTIME_DIR/gantry/"
        "gantry.sock, root's unix:///run/gantry/gantry.sock)");
    service->add_option("--group", so->group,
                        "Make the socket 0660 and the group's (docker's `docker` group: its "
                        "members may use the service as this user; its directory must let the "
                        "group in)");
    service->add_option("--tlscert", so->tls_cert,
                        "tcp://: the service's TLS certificate (PEM); with --tlskey and "
                        "--tlscacert, docker's --tlsverify (without the three: plain TCP, "
                        "with a warning)");
    service->add_option("--tlskey", so->tls_key, "tcp://: the certificate's key (PEM)");
    service->add_option("--tlscacert", so->tls_ca,
                        "tcp://: the CA whose certificates clients must present (PEM)");
    add_host_root_flags(service, so->roots);
    service
        ->add_option("--cdi-spec-dir", so->cdi_dirs,
                     "Also read CDI specs from this directory (after /etc/cdi and "
                     "/var/run/cdi) for the CDI devices its containers name (repeatable)")
        ->allow_extra_args(false);
    service->footer("Started by systemd (gantry.socket), it serves the socket systemd passes. "
                    "Containers never depend on it: they outlive it, and another service on the "
                    "same store sees them. docs/engine-api.md lists the endpoints.");
    service->callback([&ctx, so] {
        ctx.action = [&ctx, so] {
            engine_api::ServiceContext sc;
            sc.store = &ctx.store();
            sc.store_root = ctx.store_root();
            sc.version = GANTRY_VERSION;
            sc.image_stores = ctx.image_stores;
            // absolute: its helpers and the containers' later starts need not share its cwd
            sc.gpu_roots = so->roots;
            for (std::string* r :
                 {&sc.gpu_roots.driver_root, &sc.gpu_roots.dev_root, &sc.gpu_roots.sys_root})
                *r = fs::stdfs::absolute(*r).lexically_normal().string();
            for (auto& [flag, r] : sc.gpu_roots.more)
                r = fs::stdfs::absolute(r).lexically_normal().string();
            for (auto& d : so->cdi_dirs)
                sc.cdi_dirs.push_back(fs::stdfs::absolute(d).lexically_normal().string());
            return engine_api::run_service(
                sc, {so->uri, so->time, so->group, so->tls_cert, so->tls_key, so->tls_ca});
        };
    });

    // the service's helper for POST /containers/create (engine_api/spawn.hpp): the request it
    // translated, as request.json's JSON on stdin, created by engine::create in this process
    // (create forks: never in the service's threads); prints the ID. Not for users: hidden.
    auto* svc_create = sys->add_subcommand("service-create", "");
    svc_create->group("");
    svc_create->callback([&ctx] {
        ctx.action = [&ctx] {
            std::string text = fs::read_stream(STDIN_FILENO, 1 << 20, "the create request");
            auto j = nlohmann::json::parse(text, nullptr, false);
            if (j.is_discarded())
                throw Error(Errc::invalid, "the create request on stdin is not JSON");
            auto request = engine::request_from_json(j, "the create request");
            auto caller = ctx.caller ? std::move(*ctx.caller) : engine::Caller::current();
            auto id = engine::create(ctx.store(), std::move(request), std::move(caller));
            std::printf("%s\n", id.c_str());
            return 0;
        };
    });

    // after a boot: the package's gantry-restart units run it (engine/boot.hpp)
    auto* boot = sys->add_subcommand(
        "boot", "Start again the containers a boot stopped whose restart policy asks for it");
    boot->footer("Run once the machine has booted, by the gantry-restart.service units the package "
                 "ships (root's system unit, and each user's: `systemctl --user enable "
                 "gantry-restart.service`). Container records live in the runtime directory, which "
                 "a boot clears; a container started with --restart always, or unless-stopped and "
                 "not stopped by its user since, keeps a copy of its record in the store. This "
                 "command records each such container of the store again, under its name and ID, "
                 "and starts it as `gantry start` does, on its networks and volumes. Containers "
                 "recorded already are left as they are, so a second run changes nothing. "
                 "on-failure and no are not brought back, as docker's daemon does not bring them "
                 "back. Prints the containers started; exit status 125 when one failed (each is "
                 "named, the others are started).");
    boot->callback([&ctx] {
        ctx.action = [&ctx] {
            auto caller = ctx.caller ? std::move(*ctx.caller) : engine::Caller::current();
            auto r = engine::start_after_boot(ctx.store_root(), std::move(caller));
            for (auto& name : r.started) std::printf("%s\n", name.c_str());
            for (auto& why : r.failed)
                std::fprintf(stderr, "gantry: error: container %s\n", why.c_str());
            return r.failed.empty() ? 0 : exit_status(Errc::run_failed);
        };
    });

    struct FsckOpts {
        bool repair = false, json = false, deep = false;
    };
    auto fo = std::make_shared<FsckOpts>();
    auto* fsck = sys->add_subcommand("fsck", "Re-verify every blob and the layers images need");
    fsck->add_flag("--repair", fo->repair, "Remove corrupt blobs (load or pull the images again)");
    fsck->add_flag("--json", fo->json, "Print JSON");
    fsck->add_flag("--deep", fo->deep,
                   "Also re-hash every unpacked layer tree against the digest recorded when it "
                   "was unpacked (reads all of their files)");
    fsck->callback([&ctx, fo] {
        ctx.action = [&ctx, fo] {
            auto rep = store::fsck(ctx.store(), fo->repair, fo->deep);
            if (fo->json) {
                auto list = [](const std::vector<store::FsckProblem>& ps) {
                    oci::json a = oci::json::array();
                    for (auto& p : ps)
                        a.push_back({{"kind", p.kind},
                                     {"object", p.object},
                                     {"detail", p.detail},
                                     {"repaired", p.repaired}});
                    return a;
                };
                oci::json j{{"blobs_checked", rep.blobs_checked},
                            {"bytes_checked", rep.bytes_checked},
                            {"problems", list(rep.problems)}};
                if (fo->deep) {
                    j["trees_checked"] = rep.trees_checked;
                    j["tree_bytes_checked"] = rep.tree_bytes_checked;
                    j["notes"] = list(rep.notes);
                }
                std::printf("%s\n", safe_json::dump_lossy(j, 2).c_str());
            } else {
                for (auto& p : rep.problems)
                    std::printf("%s %s: %s%s\n", p.kind.c_str(), text::printable(p.object).c_str(),
                                text::printable(p.detail).c_str(), p.repaired ? " (removed)" : "");
                for (auto& p : rep.notes)
                    std::printf("note: %s %s: %s\n", p.kind.c_str(),
                                text::printable(p.object).c_str(),
                                text::printable(p.detail).c_str());
                std::printf("Checked %llu blob(s), %s",
                            static_cast<unsigned long long>(rep.blobs_checked),
                            human_size(rep.bytes_checked).c_str());
                if (fo->deep)
                    std::printf(", %llu layer tree(s), %s",
                                static_cast<unsigned long long>(rep.trees_checked),
                                human_size(rep.tree_bytes_checked).c_str());
                std::printf(": %zu problem(s)\n", rep.problems.size());
            }
            bool unrepaired = false;
            for (auto& p : rep.problems) unrepaired |= !p.repaired;
            return unrepaired ? exit_status(Errc::invalid) : 0;
        };
    });

    auto migrate_json = std::make_shared<bool>(false);
    auto* migrate = sys->add_subcommand(
        "migrate", "Keep each layer once: record its tar-split and remove its compressed blob");
    migrate->add_flag("--json", *migrate_json, "Print JSON");
    migrate->callback([&ctx, migrate_json] {
        ctx.action = [&ctx, migrate_json] {
            auto r = store::migrate(ctx.store(), store::keep_compressed());
            if (*migrate_json) {
                oci::json kept = oci::json::array();
                for (auto& [d, why] : r.kept) kept.push_back({{"layer", d}, {"why", why}});
                oci::json j{{"layers", r.layers},
                            {"migrated", r.migrated},
                            {"already", r.already},
                            {"bytes_freed", r.bytes_freed},
                            {"kept", kept}};
                std::printf("%s\n", safe_json::dump_lossy(j, 2).c_str());
                return 0;
            }
            for (auto& [d, why] : r.kept)
                std::printf("kept the blob of layer %s: %s\n", d.c_str(), why.c_str());
            std::printf("Migrated %zu of %zu layer(s) (%zu already), %s freed\n", r.migrated,
                        r.layers, r.already, human_size(r.bytes_freed).c_str());
            return 0;
        };
    });
}

} // namespace gantry::cli
