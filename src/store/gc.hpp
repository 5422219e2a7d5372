// Space accounting, garbage collection and verification of the store.
#pragma once

#include "store/store.hpp"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace gantry::store {

struct Usage {
    std::uint64_t images = 0;
    std::uint64_t blobs = 0, blob_bytes = 0, unused_blobs = 0, unused_blob_bytes = 0;
    std::uint64_t layers = 0, layer_bytes = 0, unused_layers = 0, unused_layer_bytes = 0;
    // What the unpacked layers' file data allocates: zero runs are holes (layer/extract), so a
    // tailored image's zeroed device code costs nothing. Layers unpacked before it was recorded
    // count their apparent size.
    std::uint64_t layer_allocated_bytes = 0, unused_layer_allocated_bytes = 0;
    std::uint64_t tmp_bytes = 0;
    // gantry build's step cache and cache mounts (STORE/build-cache; the layers the steps made
    // are counted with the blobs and layers, unused once no image names them)
    // BUILD_CACHE_BYTES: its records and cache mounts, plus the blobs and layer trees only the
    // cache keeps (counted there, not with the blobs and layers above)
    std::uint64_t build_cache_entries = 0, build_cache_bytes = 0;
    // images in use by a container; the blobs and trees images need, and what only the images
    // no container uses need (what removing those would free)
    std::uint64_t active_images = 0, image_bytes = 0, inactive_image_bytes = 0;
    // lazy pulls' local chunk copies (lazy/blobs)
    std::uint64_t lazy_copies = 0, lazy_bytes = 0;
    struct ImageRow {
        Digest manifest;
        std::uint64_t size = 0, shared = 0; // unpacked (the layers' file data); of it, shared
        std::size_t containers = 0;
    };
    std::vector<ImageRow> image_rows; // per image (system df -v)
};
Usage disk_usage(const Store& store);

struct PruneResult {
    std::uint64_t blobs = 0, layers = 0, tmp_entries = 0, bytes = 0;
    std::uint64_t refs = 0; // stale temporary references (Store::drop_stale_temporary_refs)
    std::uint64_t build_cache_entries = 0;
    // what went, for docker's "Deleted ..." lines: blob and layer digests, cache entries' ids
    std::vector<std::string> deleted_blobs, deleted_layers, deleted_cache;
};
struct PruneOptions {
    bool build_cache = false;          // --build-cache / -a: also the build cache (selected below)
    bool cache_only = false;           // `builder prune`: the build cache and what only it kept
    std::optional<std::int64_t> until; // cache entries last used this long ago (s)
    std::optional<std::uint64_t> keep_storage; // oldest cache entries until it holds this
};
// Removes stale temporary references, blobs and layer trees nothing needs (no reference, hold,
// running container, lazy record, nor a build cache entry that stays), everything in tmp/ and
// trash/; with build_cache, the build cache entries OPT selects first (all of them when
// neither until nor keep_storage is given). One pass over small metadata (gc_live.hpp), then
// the removals. Takes the gc lock exclusively: waits for running imports to finish.
PruneResult prune(Store& store, const PruneOptions& opt = {});

// Removes the blobs and layer trees of these manifests that nothing else needs any more
// (what `rmi` frees). Takes the gc lock exclusively.
PruneResult collect(Store& store, const std::set<Digest>& manifests);

struct FsckProblem {
    // "corrupt-blob", "missing-blob", "missing-layer", "incomplete-layer", "bad-manifest",
    // "damaged-layer" (--deep), "owners-changed" (--deep: a tree's owners were applied as
    // subordinate ids the user no longer has, store/owned_tree.hpp), "bad-lazy-record"
    // (lazy/image.hpp), "bad-index" (a name's index, store/platforms.hpp); notes:
    // "no-tree-digest" (--deep)
    std::string kind;
    std::string object; // digest or path
    std::string detail;
    bool repaired = false;
};
struct FsckReport {
    std::uint64_t blobs_checked = 0;
    std::uint64_t bytes_checked = 0;
    std::vector<FsckProblem> problems;
    // deep: the unpacked trees walked, the file data they hold, and what is no problem but
    // cannot be verified (a tree unpacked before its digest was recorded)
    std::uint64_t trees_checked = 0, tree_bytes_checked = 0;
    std::vector<FsckProblem> notes;
};
// Re-hashes every blob; checks that every referenced image has its blobs and layer trees, each
// tree complete (layer_incomplete). With repair, corrupt blobs, the layer trees unpacked from
// them and incomplete trees are removed. Deep: also every complete unpacked tree in the store
// is walked and its tree digest (store/tree_digest.hpp) compared with the one meta.json
// recorded when it was unpacked; a tree that differs is "damaged-layer" (removed with repair).
FsckReport fsck(Store& store, bool repair, bool deep = false);

// Why the unpacked layer DIFF_ID (its meta.json present) is not complete, or "" when it is:
// meta.json, written after the tree, parses (and names this layer when it names one), and
// rootfs/ is a directory, not empty when the layer had entries.
std::string layer_incomplete(const Store& store, const Digest& diff_id);
// Removes an unpacked layer (renamed into tmp/ first: a half-removed tree is never a layer).
void remove_layer(Store& store, const Digest& diff_id);

} // namespace gantry::store
