// `system df` and `system prune` in docker's shapes, and docker's `builder prune`: the store's
// space by kind (store/prune.cpp counts it), and its removal.
#include "cli/context.hpp"
#include "docker_model/words.hpp"
#include "engine/kernel_caches.hpp"
#include "kernel_cache/caches.hpp"
#include "oci/reference.hpp"
#include "sqsh/cache.hpp"
#include "store/build_cache.hpp"
#include "store/gc.hpp"
#include "store/images.hpp"
#include "store/platforms.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/units.hpp"

#include <cstdio>
#include <ctime>
#include <string>

namespace gantry::cli {

namespace {

std::string space_pct(std::uint64_t part, std::uint64_t whole) {
    return human_size(part) + " (" + std::to_string(whole ? part * 100 / whole : 0) + "%)";
}

// The kernel caches' keys (docs/kernel-caches.md): their root, how many, in use, bytes, and the
// bytes of those no container uses.
struct KernelCacheUsage {
    std::string root;
    std::size_t keys = 0, in_use = 0;
    std::uint64_t bytes = 0, unused_bytes = 0;
};

KernelCacheUsage kernel_cache_usage(Context& ctx) {
    KernelCacheUsage k;
    auto root = engine::kernel_cache_root(ctx.store_root(), "");
    k.root = root.string();
    for (auto& key : kernel_cache::list(root)) {
        ++k.keys;
        k.bytes += key.bytes;
        if (key.in_use)
            ++k.in_use;
        else
            k.unused_bytes += key.bytes;
    }
    return k;
}

void print_df_json(Context& ctx, const store::Usage& u, const sqsh::CacheUsage& c,
                   const KernelCacheUsage& k) {
    oci::json j{{"root", ctx.store().root().string()},
                {"images", u.images},
                {"active_images", u.active_images},
                {"image_bytes", u.image_bytes},
                {"image_reclaimable_bytes", u.inactive_image_bytes},
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
                {"lazy_cache", {{"layers", u.lazy_copies}, {"bytes", u.lazy_bytes}}},
                {"sqsh_cache", {{"images", c.images}, {"bytes", c.bytes}}},
                {"build_cache", {{"steps", u.build_cache_entries}, {"bytes", u.build_cache_bytes}}},
                {"kernel_caches",
                 {{"dir", k.root},
                  {"keys", k.keys},
                  {"in_use", k.in_use},
                  {"bytes", k.bytes},
                  {"unused_bytes", k.unused_bytes}}},
                {"tmp_bytes", u.tmp_bytes}};
    std::printf("%s\n", safe_json::dump_lossy(j, 2).c_str());
}

void print_df_verbose(Context& ctx, const store::Usage& u) {
    auto& store = ctx.store();
    std::map<oci::Digest, std::vector<std::string>> names;
    for (auto& [ref, md] : store.refs()) { // every platform a name holds (store/platforms.hpp)
        names[md].push_back(ref);
        try {
            for (auto& p : store::name_images(store, ref))
                if (p.manifest != md) names[p.manifest].push_back(ref);
        } catch (const Error&) { // an unreadable index: fsck reports it
        }
    }
    std::vector<std::vector<std::string>> rows{{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE",
                                                "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"}};
    for (auto& row : u.image_rows) {
        std::string repo = "<none>", tag = "<none>", id = "-", created = "-";
        try {
            auto img = store::read_image(store, row.manifest);
            id = img.id().short_id();
            created = units::human_ago(img.config.created, "-");
        } catch (const Error&) {
        }
        auto refs = names[row.manifest];
        if (refs.empty()) refs.push_back("");
        for (auto& ref : refs) {
            if (!ref.empty()) {
                auto r = oci::Reference::parse(ref);
                tag = r.tag.empty() ? "<none>" : r.tag;
                r.tag.clear();
                r.digest.clear();
                repo = r.familiar();
            }
            rows.push_back({repo, tag, id, created, human_size(row.size), human_size(row.shared),
                            human_size(row.size - row.shared), std::to_string(row.containers)});
        }
    }
    std::printf("\nImages space usage:\n\n");
    print_table(rows);
    std::printf("\nBuild cache usage: %s\n\n", human_size(u.build_cache_bytes).c_str());
    std::vector<std::vector<std::string>> cache{
        {"CACHE ID", "CACHE TYPE", "SIZE", "LAST USED", "SHARED"}};
    auto now = static_cast<std::int64_t>(std::time(nullptr));
    for (auto& e : store::build_cache_entries(store))
        cache.push_back({e.id.substr(0, 12), e.kind, human_size(e.bytes),
                         units::human_duration(now - e.last_used) + " ago", "false"});
    print_table(cache);
}

void print_prune(const store::PruneResult& r, bool cache_only) {
    auto list = [](const char* title, const std::vector<std::string>& what) {
        if (what.empty()) return;
        std::printf("%s\n", title);
        for (auto& w : what) std::printf("deleted: %s\n", w.c_str());
        std::printf("\n");
    };
    list("Deleted blobs:", r.deleted_blobs);
    list("Deleted layer trees:", r.deleted_layers);
    if (!r.deleted_cache.empty()) {
        std::printf("Deleted build cache objects:\n");
        for (auto& id : r.deleted_cache) std::printf("%s\n", id.c_str());
        std::printf("\n");
    }
    if (!cache_only)
        std::printf(
            "Removed %llu blob(s), %llu layer tree(s), %llu temporary entr%s, %llu build "
            "cache object(s)\n",
            static_cast<unsigned long long>(r.blobs), static_cast<unsigned long long>(r.layers),
            static_cast<unsigned long long>(r.tmp_entries), r.tmp_entries == 1 ? "y" : "ies",
            static_cast<unsigned long long>(r.deleted_cache.size()));
    std::printf("Total reclaimed space: %s\n", docker_model::docker_size(r.bytes).c_str());
}

struct PruneFlags {
    bool build_cache = false, all = false, force = false;
    std::vector<std::string> filters;
    std::string keep_storage, cache_max;
};

store::PruneOptions prune_options(const PruneFlags& f, bool cache_only) {
    store::PruneOptions o;
    o.cache_only = cache_only;
    o.build_cache = cache_only || f.build_cache || f.all;
    for (auto& flt : f.filters) {
        if (flt.starts_with("until="))
            o.until = store::parse_until(flt.substr(6));
        else
            throw Error(Errc::usage, "prune: filter \"" + flt + "\" is not supported",
                        "the build cache takes --filter until=DURATION (e.g. until=24h)");
    }
    if (!f.keep_storage.empty())
        o.keep_storage = units::parse_size(f.keep_storage, "--keep-storage");
    if ((o.until || o.keep_storage) && !o.build_cache)
        throw Error(Errc::usage,
                    "--filter until= and --keep-storage select build cache entries, and the "
                    "build cache is pruned only with --build-cache or -a",
                    "add --build-cache (or use `gantry builder prune`)");
    return o;
}

void add_cache_flags(CLI::App* cmd, PruneFlags& f) {
    cmd->add_option("--filter", f.filters,
                    "Build cache entries to remove: until=DURATION (last used that long ago, "
                    "e.g. until=24h)");
    cmd->add_option("--keep-storage", f.keep_storage,
                    "Remove the least recently used build cache entries until it holds at most "
                    "SIZE (e.g. 10g)");
    cmd->add_flag("-f,--force", f.force, "Do not prompt for confirmation (gantry never prompts)");
}

} // namespace

void register_system_space(CLI::App& sys, Context& ctx) {
    struct DfOpts {
        bool json = false, verbose = false;
    };
    auto dfo = std::make_shared<DfOpts>();
    auto* df = sys.add_subcommand("df", "Show the store's disk usage");
    df->add_flag("--json", dfo->json, "Print JSON");
    df->add_flag("-v,--verbose", dfo->verbose, "Show each image and build cache entry");
    df->callback([&ctx, dfo] {
        ctx.action = [&ctx, dfo] {
            auto u = store::disk_usage(ctx.store());
            auto c = sqsh::cache_usage(ctx.store());
            auto k = kernel_cache_usage(ctx);
            if (dfo->json) {
                print_df_json(ctx, u, c, k);
                return 0;
            }
            std::printf("Store: %s\n", ctx.store().root().string().c_str());
            auto cache_entries = u.build_cache_entries;
            print_table(
                {{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"},
                 {"Images", std::to_string(u.images), std::to_string(u.active_images),
                  human_size(u.image_bytes), space_pct(u.inactive_image_bytes, u.image_bytes)},
                 {"Blobs", std::to_string(u.blobs), std::to_string(u.blobs - u.unused_blobs),
                  human_size(u.blob_bytes), space_pct(u.unused_blob_bytes, u.blob_bytes)},
                 {"Layer trees", std::to_string(u.layers),
                  std::to_string(u.layers - u.unused_layers),
                  human_size(u.layer_bytes) + " (" + human_size(u.layer_allocated_bytes) +
                      " on disk)",
                  space_pct(u.unused_layer_bytes, u.layer_bytes)},
                 {"Lazy caches", std::to_string(u.lazy_copies), "-", human_size(u.lazy_bytes), "-"},
                 {"Squashfs cache", std::to_string(c.images), "-", human_size(c.bytes),
                  "LRU: prune --sqsh-cache-max"},
                 {"Build Cache", std::to_string(cache_entries), "0",
                  human_size(u.build_cache_bytes), human_size(u.build_cache_bytes)},
                 {"Kernel caches", std::to_string(k.keys), std::to_string(k.in_use),
                  human_size(k.bytes), space_pct(k.unused_bytes, k.bytes)},
                 {"Temporary", "-", "-", human_size(u.tmp_bytes), human_size(u.tmp_bytes)}});
            if (dfo->verbose) print_df_verbose(ctx, u);
            return 0;
        };
    });

    auto pf = std::make_shared<PruneFlags>();
    auto* prune = sys.add_subcommand(
        "prune", "Remove unreferenced blobs, layer trees and leftovers (the build cache with "
                 "--build-cache or -a)");
    prune->add_option("--sqsh-cache-max", pf->cache_max,
                      "Also evict the squashfs cache's least recently used images until it "
                      "holds at most SIZE (e.g. 50g; 0 empties it)");
    prune->add_flag("--build-cache", pf->build_cache, "Also remove the build cache");
    prune->add_flag("-a,--all", pf->all,
                    "Also remove the build cache and every kernel cache key no container uses "
                    "(docker's -a; gantry keeps no dangling images)");
    add_cache_flags(prune, *pf);
    prune->callback([&ctx, pf] {
        ctx.action = [&ctx, pf] {
            auto opt = prune_options(*pf, false);
            std::optional<std::uint64_t> max;
            if (!pf->cache_max.empty()) max = units::parse_size(pf->cache_max, "--sqsh-cache-max");
            auto c = sqsh::prune_cache(ctx.store(), max);
            if (c.removed)
                std::printf("Removed %zu squashfs image(s) from the cache; reclaimed %s\n",
                            c.removed, human_size(c.freed).c_str());
            // the kernel caches: leftovers, the keys above kernel_cache_max_size, every unused
            // one with -a
            auto k = kernel_cache::prune(engine::kernel_cache_root(ctx.store_root(), ""), pf->all,
                                         engine::kernel_cache_max_bytes());
            if (!k.keys.empty())
                std::printf("Removed %zu kernel cache key(s); reclaimed %s\n", k.keys.size(),
                            human_size(k.bytes).c_str());
            auto r = store::prune(ctx.store(), opt);
            r.bytes += c.freed + k.bytes;
            print_prune(r, false);
            return 0;
        };
    });
}

// docker's `builder prune` (its own command word: main.cpp registers it alone)
void register_builder(CLI::App& app, Context& ctx) {
    auto* builder = app.add_subcommand("builder", "Manage the build cache (docker's builder)");
    builder->require_subcommand(1);
    auto bf = std::make_shared<PruneFlags>();
    auto* bprune = builder->add_subcommand(
        "prune", "Remove the build cache and the layers only it keeps (docker's builder prune)");
    bprune->add_flag("-a,--all", bf->all, "docker's: every entry (gantry's entries all count)");
    add_cache_flags(bprune, *bf);
    bprune->callback([&ctx, bf] {
        ctx.action = [&ctx, bf] {
            print_prune(store::prune(ctx.store(), prune_options(*bf, true)), true);
            return 0;
        };
    });
}

} // namespace gantry::cli
