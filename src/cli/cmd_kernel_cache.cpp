// gantry kernel-cache ls/inspect/rm/prune/commit/push: the kernel caches kept per key
// (docs/kernel-caches.md; kernel_cache/caches.hpp, engine/kernel_caches.hpp).
#include "cli/context.hpp"
#include "cli/registry_flags.hpp"
#include "engine/kernel_cache_artifacts.hpp"
#include "engine/kernel_caches.hpp"
#include "kernel_cache/caches.hpp"
#include "kernel_cache/shared.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/units.hpp"

#include <cstdio>
#include <ctime>

namespace gantry::cli {

namespace {

nlohmann::json key_json(const kernel_cache::KeyInfo& k) {
    nlohmann::json j = {
        {"Key", k.key},         {"Dir", k.dir.string()}, {"Generation", k.generation},
        {"Size", k.bytes},      {"LastUsed", k.used},    {"InUse", k.in_use},
        {"Writing", k.writing}, {"Facts", nullptr}};
    if (k.facts) j["Facts"] = k.facts->to_json();
    return j;
}

std::string when(std::int64_t t) {
    if (t <= 0) return "-";
    char buf[32];
    std::time_t tt = t;
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

} // namespace

void register_kernel_cache(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string dir, container, max_size, store, repository;
        RegistryFlags registry;
        std::vector<std::string> keys;
        bool json = false, quiet = false, all = false, force = false;
    };
    auto o = std::make_shared<Opts>();
    auto* grp = app.add_subcommand(
        "kernel-cache", "Manage the JIT and autotuning caches kept per key (run --kernel-cache)");
    grp->require_subcommand(1);
    auto root = [&ctx, o] { return engine::kernel_cache_root(ctx.store_root(), o->dir); };
    auto dir_option = [o](CLI::App* cmd) {
        cmd->add_option("--dir", o->dir,
                        "The caches' directory (default: the config file's kernel_cache DIR, "
                        "else the store's kernel-caches/)");
    };

    auto* ls = grp->add_subcommand("ls", "List the keys, most recently used first");
    ls->alias("list");
    ls->add_flag("--json", o->json, "JSON output");
    ls->add_flag("-q,--quiet", o->quiet, "Only the keys");
    dir_option(ls);
    ls->callback([&ctx, o, root] {
        ctx.action = [o, root] {
            auto keys = kernel_cache::list(root());
            auto items = nlohmann::json::array();
            std::vector<std::vector<std::string>> rows = {
                {"KEY", "VENDOR", "GENERATION", "SIZE", "LAST USED", "IN USE"}};
            for (auto& k : keys) {
                if (o->quiet) std::printf("%s\n", k.key.c_str());
                items.push_back(key_json(k));
                rows.push_back({k.key, k.facts ? k.facts->vendor : "?", k.generation,
                                human_size(k.bytes), when(k.used),
                                k.writing  ? "writing"
                                : k.in_use ? "reading"
                                           : "-"});
            }
            return print_listing(o->json, o->quiet, items, rows);
        };
    });

    auto* inspect = grp->add_subcommand("inspect", "Print keys as JSON: what each is keyed on");
    inspect->add_option("key", o->keys, "Keys (or their first 4 hex digits at least)")->required();
    dir_option(inspect);
    inspect->callback([&ctx, o, root] {
        ctx.action = [o, root] {
            auto all = nlohmann::json::array();
            for (auto& k : o->keys) all.push_back(key_json(kernel_cache::find(root(), k)));
            std::printf("%s\n", safe_json::dump_lossy(all, 4).c_str());
            return 0;
        };
    });

    auto* rm = grp->add_subcommand("rm", "Remove keys no container uses");
    rm->alias("remove");
    rm->add_option("key", o->keys, "Keys (or their first 4 hex digits at least)")->required();
    dir_option(rm);
    rm->callback([&ctx, o, root] {
        ctx.action = [o, root] {
            for (auto& k : o->keys) {
                auto info = kernel_cache::find(root(), k);
                kernel_cache::remove(root(), info.key);
                std::printf("%s\n", info.key.c_str());
            }
            return 0;
        };
    });

    auto* prune = grp->add_subcommand(
        "prune", "Remove what no container uses: leftovers, then the least recently used keys "
                 "above --max-size, or every unused key with -a");
    prune->add_flag("-a,--all", o->all, "Every key no container uses");
    prune->add_option("--max-size", o->max_size,
                      "Keep at most this much (default: the config file's kernel_cache_max_size, "
                      "else 20GiB)");
    prune->add_flag("-f,--force", o->force, "Accepted (gantry never asks)");
    dir_option(prune);
    prune->callback([&ctx, o, root] {
        ctx.action = [o, root] {
            std::uint64_t cap = o->max_size.empty() ? engine::kernel_cache_max_bytes()
                                                    : units::parse_size(o->max_size, "--max-size");
            auto pruned = kernel_cache::prune(root(), o->all, cap);
            for (auto& k : pruned.keys) std::printf("Deleted: %s\n", k.c_str());
            std::printf("Total reclaimed space: %s\n", human_size(pruned.bytes).c_str());
            return 0;
        };
    });

    auto* push = grp->add_subcommand(
        "push", "Publish keys to a registry (an artifact referring to the image) or a shared "
                "image store, where other nodes' first starts find them");
    push->add_option("key", o->keys, "Keys (or their first 4 hex digits at least)")->required();
    push->add_option("--image-store", o->store,
                     "The shared store (a directory the nodes read with --image-store, "
                     "$GANTRY_IMAGE_STORES or the config file's image_stores) instead of a "
                     "registry");
    push->add_option("--repository", o->repository,
                     "The registry repository of the key's image (default: the repository of "
                     "the store's image with the key's manifest)");
    add_registry_flags(push, o->registry, true);
    dir_option(push);
    push->callback([&ctx, o, root] {
        ctx.action = [&ctx, o, root] {
            if (!o->store.empty() && !o->repository.empty())
                throw Error(Errc::usage, "kernel-cache push: --image-store and --repository",
                            "push to one of them at a time");
            for (auto& k : o->keys) {
                if (!o->store.empty()) {
                    std::printf("%s\n", kernel_cache::push_shared(root(), k, o->store).c_str());
                    continue;
                }
                auto info = kernel_cache::find(root(), k);
                if (!info.facts)
                    throw Error(Errc::invalid,
                                "the kernel cache " + info.key + " has no readable facts.json",
                                "remove it: gantry kernel-cache rm " + info.key);
                auto repo =
                    engine::kernel_cache_repository(ctx.store(), *info.facts, o->repository);
                auto a = engine::push_kernel_cache_artifact(root(), info.key, repo,
                                                            client_options(o->registry));
                std::printf("%s@%s\n", a.repository.c_str(), a.manifest.c_str());
            }
            return 0;
        };
    });

    auto* commit = grp->add_subcommand(
        "commit", "Publish a running writer's additions now (a server that never exits)");
    commit->add_option("container", o->container, "The container (name or id)")->required();
    commit->callback([&ctx, o] {
        ctx.action = [o] {
            std::printf("%s\n", engine::commit_kernel_cache(o->container).c_str());
            return 0;
        };
    });
}

} // namespace gantry::cli
