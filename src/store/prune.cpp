// The store's space accounting (`system df`) and `system prune` / `builder prune`: one pass over
// small metadata (the live set, gc_live.hpp; the build cache's records; layers' meta.json),
// never a read of a blob or an unpacked tree, then the removals, each atomic (unlink, or a
// rename into tmp/ before the delete), so that a kill at any point leaves a consistent store.
#include "oci/image.hpp"
#include "store/build_cache.hpp"
#include "store/gc.hpp"
#include "store/gc_live.hpp"
#include "store/owned_tree.hpp"
#include "store/scratch.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/parallel.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <unistd.h>

namespace gantry::store {

using namespace detail;

namespace {

// What the build cache keeps that nothing else does: its entries' blobs and layers (hex).
void cache_needs(const std::vector<BuildCacheEntry>& cache, const Live& live,
                 std::set<std::string>& blobs, std::set<std::string>& layers) {
    for (auto& e : cache) {
        if (!e.blob.empty() && !live.blobs.count(e.blob)) blobs.insert(e.blob);
        if (!e.diff_id.empty() && !live.layers.count(e.diff_id)) layers.insert(e.diff_id);
    }
}

std::uint64_t unpacked_bytes_of(const Store& store, const std::string& hex) {
    try {
        auto meta = oci::parse_json(
            fs::read_file(store.root() / "layers/sha256" / hex / "meta.json", 1u << 20),
            "layer metadata");
        auto it = meta.find("content_bytes");
        if (it == meta.end()) it = meta.find("size");
        return it != meta.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
    } catch (const std::exception&) {
        return 0;
    }
}

} // namespace

Usage disk_usage(const Store& store) {
    Usage u;
    Live live = live_set(store);
    u.images = live.images;
    auto cache = build_cache_entries(store);
    std::set<std::string> cache_blobs, cache_layers;
    cache_needs(cache, live, cache_blobs, cache_layers);
    std::map<std::string, std::uint64_t> blob_size, layer_size; // of the live ones
    for (auto& hex : entries(store.root() / "blobs/sha256")) {
        auto n = file_bytes(store.root() / "blobs/sha256" / hex);
        if (cache_blobs.count(hex)) {
            u.build_cache_bytes += n;
            continue;
        }
        ++u.blobs;
        u.blob_bytes += n;
        if (live.blobs.count(hex))
            blob_size[hex] = n;
        else {
            ++u.unused_blobs;
            u.unused_blob_bytes += n;
        }
    }
    for (auto& hex : entries(store.root() / "layers/sha256")) {
        auto [n, allocated] = layer_sizes(store.root() / "layers/sha256" / hex);
        if (cache_layers.count(hex)) {
            u.build_cache_bytes += allocated;
            continue;
        }
        ++u.layers;
        u.layer_bytes += n;
        u.layer_allocated_bytes += allocated;
        if (live.layers.count(hex))
            layer_size[hex] = allocated;
        else {
            ++u.unused_layers;
            u.unused_layer_bytes += n;
            u.unused_layer_allocated_bytes += allocated;
        }
    }
    // images: what they need, and what only those no container uses need ("b"/"l" + hex: an
    // uncompressed layer's blob and tree have the same digest)
    std::map<std::string, std::size_t> active_users, users;
    for (auto& [md, needs] : live.image_needs) {
        bool active = live.image_containers.count(md) != 0;
        u.active_images += active;
        for (auto& hex : needs.first) {
            ++users["b" + hex];
            if (active) ++active_users["b" + hex];
        }
        for (auto& hex : needs.second) {
            ++users["l" + hex];
            if (active) ++active_users["l" + hex];
        }
    }
    auto bytes_of = [&](const std::string& key) {
        const auto& sizes = key[0] == 'b' ? blob_size : layer_size;
        auto it = sizes.find(key.substr(1));
        return it != sizes.end() ? it->second : std::uint64_t{0};
    };
    for (auto& kv : users) {
        u.image_bytes += bytes_of(kv.first);
        if (!active_users.count(kv.first)) u.inactive_image_bytes += bytes_of(kv.first);
    }
    for (auto& [md, needs] : live.image_needs) {
        Usage::ImageRow row{md, 0, 0, 0};
        auto c = live.image_containers.find(md);
        row.containers = c == live.image_containers.end() ? 0 : c->second;
        for (auto& hex : needs.second) {
            auto n = unpacked_bytes_of(store, hex);
            row.size += n;
            if (users["l" + hex] > 1) row.shared += n;
        }
        u.image_rows.push_back(row);
    }
    for (auto& name : entries(store.tmp_dir()))
        u.tmp_bytes += fs::disk_usage(store.tmp_dir() / name);
    for (auto& name : entries(store.root() / "trash"))
        u.tmp_bytes += fs::disk_usage(store.root() / "trash" / name);
    for (auto& e : cache) {
        u.build_cache_entries += e.kind == "regular";
        u.build_cache_bytes += e.bytes;
    }
    for (auto& name : entries(store.root() / "lazy" / "blobs")) {
        u.lazy_copies += !std::string_view(name).ends_with(".map");
        u.lazy_bytes += fs::disk_usage(store.root() / "lazy" / "blobs" / name);
    }
    return u;
}

namespace {

void prune_build_cache(Store& store, const PruneOptions& opt, Live& live, PruneResult& r,
                       std::set<std::string>& freed_blobs, std::set<std::string>& freed_layers) {
    auto cache = build_cache_entries(store, opt.build_cache);
    std::vector<std::size_t> gone;
    if (opt.build_cache) {
        std::vector<std::uint64_t> extra(cache.size(), 0); // the layer only the entry keeps
        for (std::size_t i = 0; i < cache.size(); ++i) {
            const auto& e = cache[i];
            if (!e.blob.empty() && !live.blobs.count(e.blob))
                extra[i] += file_bytes(store.root() / "blobs/sha256" / e.blob);
            if (!e.diff_id.empty() && !live.layers.count(e.diff_id))
                extra[i] += layer_bytes(store.root() / "layers/sha256" / e.diff_id);
        }
        BuildCachePrune how{true, opt.until, opt.keep_storage};
        gone = select_build_cache(cache, how, static_cast<std::int64_t>(std::time(nullptr)), extra);
    }
    std::vector<bool> removed(cache.size(), false);
    for (auto i : gone) {
        const auto& e = cache[i];
        if (!remove_build_cache_entry(store, e)) continue;
        removed[i] = true;
        r.bytes += e.bytes;
        r.build_cache_entries += e.kind == "regular";
        r.deleted_cache.push_back(e.id);
        if (!e.blob.empty()) freed_blobs.insert(e.blob);
        if (!e.diff_id.empty()) freed_layers.insert(e.diff_id);
    }
    // what the entries that stay name stays too
    for (std::size_t i = 0; i < cache.size(); ++i) {
        if (removed[i]) continue;
        if (!cache[i].blob.empty()) live.blobs.insert(cache[i].blob);
        if (!cache[i].diff_id.empty()) live.layers.insert(cache[i].diff_id);
    }
}

void drop_blob(Store& store, const std::string& hex, PruneResult& r) {
    auto p = store.root() / "blobs/sha256" / hex;
    auto n = file_bytes(p);
    if (::unlink(p.c_str()) != 0) {
        if (errno != EISDIR) return;
        remove_owned_tree(p); // not a blob: a stray directory
    }
    r.bytes += n;
    ++r.blobs;
    r.deleted_blobs.push_back("sha256:" + hex);
}

// Unnames the layer HEX at once (renamed into tmp/, so a kill leaves it whole or not a layer)
// and queues its deletion in DOOMED (delete_doomed).
void drop_layer(Store& store, const std::string& hex, PruneResult& r,
                std::vector<stdfs::path>& doomed) {
    auto p = store.root() / "layers/sha256" / hex;
    auto n = layer_bytes(p);
    auto to = store.tmp_dir() / ("doomed-" + fs::unique_name());
    if (::rename(p.c_str(), to.c_str()) != 0) return;
    doomed.push_back(to);
    r.bytes += n;
    ++r.layers;
    r.deleted_layers.push_back("sha256:" + hex);
}

// Deletes the unnamed trees, several at once: deleting is waiting for the disk (a journal
// commit, a discard), not CPU, and a disk busy with other work answers many requests about as
// fast as one (bench/prune.py).
void delete_doomed(const std::vector<stdfs::path>& doomed) {
    parallel_for(doomed.size(), 8, [&](std::size_t i) {
        try {
            remove_owned_tree(doomed[i]);
        } catch (const Error&) { // left in tmp/: the next prune removes it
        }
    });
}

} // namespace

PruneResult prune(Store& store, const PruneOptions& opt) {
    auto lock = store.gc_lock();
    PruneResult r;
    if (!opt.cache_only) r.refs = store.drop_stale_temporary_refs(); // their images: garbage
    Live live = live_set(store);
    if (!live.problems.empty())
        throw Error(Errc::invalid,
                    "cannot prune: image " + live.problems.front().object + " is damaged (" +
                        live.problems.front().detail +
                        "), so what it uses is unknown; nothing was removed",
                    "run `gantry system fsck`, then remove the damaged image with `gantry rmi` or "
                    "load it again");
    std::set<std::string> freed_blobs, freed_layers; // what removed cache entries named
    prune_build_cache(store, opt, live, r, freed_blobs, freed_layers);
    std::vector<stdfs::path> doomed; // layer trees unnamed, to delete
    if (opt.cache_only) {            // `builder prune`: only what the removed entries alone kept
        for (auto& hex : freed_blobs)
            if (!live.blobs.count(hex) && store.has_blob(Digest::from_hex(hex)))
                drop_blob(store, hex, r);
        for (auto& hex : freed_layers)
            if (!live.layers.count(hex) && store.has_layer(Digest::from_hex(hex)))
                drop_layer(store, hex, r, doomed);
        delete_doomed(doomed);
        return r;
    }
    r.tmp_entries += store.remove_half_written();
    for (auto& name : entries(store.tmp_dir())) {
        auto p = store.tmp_dir() / name;
        r.bytes += fs::disk_usage(p);
        remove_owned_tree(p);
        ++r.tmp_entries;
    }
    // Ephemeral containers' directories a reaper has not deleted yet (see store/scratch.hpp).
    for (auto& name : entries(store.root() / "trash"))
        r.bytes += fs::disk_usage(store.root() / "trash" / name);
    r.tmp_entries += reap_trash(store.root());
    store.drop_unused_image_locks(); // made again by an image's next run
    for (auto& hex : entries(store.root() / "blobs/sha256"))
        if (!live.blobs.count(hex)) drop_blob(store, hex, r);
    for (auto& hex : entries(store.root() / "layers/sha256"))
        if (!live.layers.count(hex)) drop_layer(store, hex, r, doomed);
    delete_doomed(doomed);
    // lazily pulled layers' local copies (and their maps) no lazy record names, and working
    // sets whose recording run is gone (lazy/store_layers.hpp, lazy/working_set.hpp)
    for (auto& name : entries(store.root() / "lazy" / "blobs")) {
        std::string_view n = name;
        if (n.ends_with(".map")) n.remove_suffix(4);
        if (live.lazy_copies.count(std::string(n))) continue;
        auto p = store.root() / "lazy" / "blobs" / name;
        r.bytes += fs::disk_usage(p);
        if (::unlink(p.c_str()) == 0) ++r.tmp_entries;
    }
    for (auto& name : entries(store.root() / "lazy" / "working-sets")) {
        auto at = name.find(".rec-");
        if (at == std::string::npos) continue;
        long pid = std::strtol(name.c_str() + at + 5, nullptr, 10);
        if (pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) continue;
        auto p = store.root() / "lazy" / "working-sets" / name;
        r.bytes += file_bytes(p);
        if (::unlink(p.c_str()) == 0) ++r.tmp_entries;
    }
    // run views (rootfs/run_view.hpp) and policy verdicts (registry/verify.hpp) of images no
    // longer here, and half-written ones
    for (const auto& dir : {store.views_dir(), store.verdicts_dir()})
        for (auto& name : entries(dir)) {
            std::string_view n = name;
            if (n.ends_with(".json") && live.blobs.count(std::string(n.substr(0, n.size() - 5))))
                continue;
            auto p = dir / name;
            r.bytes += file_bytes(p);
            if (::unlink(p.c_str()) == 0) ++r.tmp_entries;
        }
    return r;
}

} // namespace gantry::store
