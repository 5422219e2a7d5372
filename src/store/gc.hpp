// Space accounting, garbage collection and verification of the store.
#pragma once

#include "store/store.hpp"

#include <cstdint>
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
    std::uint64_t build_cache_entries = 0, build_cache_bytes = 0;
};
Usage disk_usage(const Store& store);

struct PruneResult {
    std::uint64_t blobs = 0, layers = 0, tmp_entries = 0, bytes = 0;
    std::uint64_t refs = 0; // stale temporary references (Store::drop_stale_temporary_refs)
    std::uint64_t build_cache_entries = 0;
};
// Removes stale temporary references and gantry build's cache (steps and cache mounts), then
// blobs and layer trees no reference or hold needs, and everything in tmp/.
// Takes the gc lock exclusively: waits for running imports to finish.
PruneResult prune(Store& store);

// Removes the blobs and layer trees of these manifests that nothing else needs any more
// (what `rmi` frees). Takes the gc lock exclusively.
PruneResult collect(Store& store, const std::set<Digest>& manifests);

struct FsckProblem {
    // "corrupt-blob", "missing-blob", "missing-layer", "incomplete-layer", "bad-manifest",
    // "damaged-layer" (--deep), "bad-lazy-record" (lazy/image.hpp); notes: "no-tree-digest"
    // (--deep)
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
