#include "cli/context.hpp"
#include "engine/reset.hpp"
#include "engine_api/server.hpp"
#include "oci/image.hpp"
#include "sqsh/cache.hpp"
#include "store/gc.hpp"
#include "util/error.hpp"
#include "util/units.hpp"

#include <cctype>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace gantry::cli {

void register_system(CLI::App& app, Context& ctx) {
    auto* sys = app.add_subcommand("system", "Manage the image store; serve the Docker Engine API");
    sys->require_subcommand(1);

    auto json_df = std::make_shared<bool>(false);
    auto* df = sys->add_subcommand("df", "Show the store's disk usage");
    df->add_flag("--json", *json_df, "Print JSON");
    df->callback([&ctx, json_df] {
        ctx.action = [&ctx, json_df] {
            auto u = store::disk_usage(ctx.store());
            auto c = sqsh::cache_usage(ctx.store());
            if (*json_df) {
                oci::json j{{"root", ctx.store().root().string()},
                            {"images", u.images},
                            {"blobs",
                             {{"count", u.blobs},
                              {"bytes", u.blob_bytes},
                              {"unused", u.unused_blobs},
                              {"unused_bytes", u.unused_blob_bytes}}},
                            {"layers",
                             {{"count", u.layers},
                              {"bytes", u.layer_bytes},
                              {"apparent_bytes", u.layer_bytes},
                              {"allocated_bytes", u.layer_allocated_bytes},
                              {"unused", u.unused_layers},
                              {"unused_bytes", u.unused_layer_bytes},
                              {"unused_allocated_bytes", u.unused_layer_allocated_bytes}}},
                            {"sqsh_cache", {{"images", c.images}, {"bytes", c.bytes}}},
                            {"build_cache",
                             {{"steps", u.build_cache_entries}, {"bytes", u.build_cache_bytes}}},
                            {"tmp_bytes", u.tmp_bytes}};
                std::printf("%s\n", j.dump(2).c_str());
                return 0;
            }
            std::printf("Store: %s\n", ctx.store().root().string().c_str());
            print_table(
                {{"TYPE", "TOTAL", "SIZE", "RECLAIMABLE"},
                 {"Images", std::to_string(u.images), "-", "-"},
                 {"Blobs", std::to_string(u.blobs), human_size(u.blob_bytes),
                  human_size(u.unused_blob_bytes) + " (" + std::to_string(u.unused_blobs) + ")"},
                 {"Unpacked layers", std::to_string(u.layers),
                  human_size(u.layer_bytes) + " (" + human_size(u.layer_allocated_bytes) +
                      " on disk)",
                  human_size(u.unused_layer_bytes) + " (" + std::to_string(u.unused_layers) + ")"},
                 {"Squashfs cache", std::to_string(c.images), human_size(c.bytes),
                  "LRU: prune --sqsh-cache-max"},
                 {"Build cache", std::to_string(u.build_cache_entries),
                  human_size(u.build_cache_bytes), human_size(u.build_cache_bytes)},
                 {"Temporary", "-", human_size(u.tmp_bytes), human_size(u.tmp_bytes)}});
            return 0;
        };
    });

    auto* prune =
        sys->add_subcommand("prune", "Remove unreferenced blobs, layer trees and leftovers");
    auto cache_max = std::make_shared<std::string>();
    prune->add_option("--sqsh-cache-max", *cache_max,
                      "Also evict the squashfs cache's least recently used images until it "
                      "holds at most SIZE (e.g. 50g; 0 empties it)");
    prune->callback([&ctx, cache_max] {
        ctx.action = [&ctx, cache_max] {
            std::optional<std::uint64_t> max;
            if (!cache_max->empty()) max = units::parse_size(*cache_max, "--sqsh-cache-max");
            auto c = sqsh::prune_cache(ctx.store(), max);
            if (c.removed)
                std::printf("Removed %zu squashfs image(s) from the cache; reclaimed %s\n",
                            c.removed, human_size(c.freed).c_str());
            auto r = store::prune(ctx.store());
            if (r.build_cache_entries)
                std::printf("Removed %llu build cache step(s)\n",
                            static_cast<unsigned long long>(r.build_cache_entries));
            std::printf(
                "Removed %llu blob(s), %llu layer tree(s), %llu temporary entr%s; reclaimed %s\n",
                static_cast<unsigned long long>(r.blobs), static_cast<unsigned long long>(r.layers),
                static_cast<unsigned long long>(r.tmp_entries), r.tmp_entries == 1 ? "y" : "ies",
                human_size(r.bytes).c_str());
            return 0;
        };
    });

    // podman's `system reset`: engine/reset.hpp decides and removes; here only the prompt
    auto force = std::make_shared<bool>(false);
    auto* reset = sys->add_subcommand(
        "reset", "Remove the whole store: every image, layer, cache and container (stopped first)");
    reset->add_flag("-f,--force", *force, "Do not prompt for confirmation");
    reset->callback([&ctx, force] {
        ctx.action = [&ctx, force] {
            runtime::StateDir states;
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
        std::string uri;
    };
    auto so = std::make_shared<ServiceOpts>();
    auto* service = sys->add_subcommand(
        "service", "Serve the Docker Engine API (1.41) on a unix socket, for docker's CLI and "
                   "docker-py (DOCKER_HOST), until idle");
    service
        ->add_option("-t,--time", so->time,
                     "Exit after this many seconds with no connection (default 5; 0: never)")
        ->check(CLI::NonNegativeNumber);
    service->add_option("uri", so->uri,
                        "Where to listen: unix:///PATH (default unix://$XDG_RUNTIME_DIR/gantry/"
                        "gantry.sock, root's unix:///run/gantry/gantry.sock)");
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
            return engine_api::run_service(sc, {so->uri, so->time});
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
                std::printf("%s\n", j.dump(2).c_str());
            } else {
                for (auto& p : rep.problems)
                    std::printf("%s %s: %s%s\n", p.kind.c_str(), p.object.c_str(), p.detail.c_str(),
                                p.repaired ? " (removed)" : "");
                for (auto& p : rep.notes)
                    std::printf("note: %s %s: %s\n", p.kind.c_str(), p.object.c_str(),
                                p.detail.c_str());
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
}

} // namespace gantry::cli
