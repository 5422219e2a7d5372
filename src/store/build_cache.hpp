// gantry build's cache as the store sees it (STORE/build-cache, written by image_build/cache.cpp
// and the RUN steps' cache mounts): its entries, what each keeps, and their removal, for
// `system df`, `system prune --build-cache` and `builder prune` (docker's semantics: the cache
// goes only when asked, by age with until=, or down to a size with --keep-storage).
#pragma once

#include "store/store.hpp"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace gantry::store {

struct BuildCacheEntry {
    std::string id;   // a step's key, or a cache mount's directory name
    std::string kind; // "regular" (a step's record) or "exec.cachemount" (docker's words)
    stdfs::path path;
    std::int64_t last_used = 0; // seconds since the epoch (the entry's mtime)
    std::uint64_t bytes = 0;    // its own bytes: the record, or the mount's tree
    std::string blob, diff_id;  // the layer a step's record names (hex; "" for none)
};

// Every entry, steps first (small records: one read each) then cache mounts (MOUNT_SIZES: their
// trees' disk usage, else 0). A build-cache/steps that is not a directory is one entry, "damaged".
std::vector<BuildCacheEntry> build_cache_entries(const Store& store, bool mount_sizes = true);

struct BuildCachePrune {
    bool all = true;                           // no selection: every entry
    std::optional<std::int64_t> until;         // only entries last used this many seconds ago
    std::optional<std::uint64_t> keep_storage; // then the oldest until the cache holds this
};
// Which of ENTRIES to remove; LAYER_BYTES(entry) is what removing it frees besides its own
// bytes (the layer only it keeps), for --keep-storage.
std::vector<std::size_t> select_build_cache(const std::vector<BuildCacheEntry>& entries,
                                            const BuildCachePrune& how, std::int64_t now,
                                            const std::vector<std::uint64_t>& layer_bytes);
// Removes one entry: a record by unlink, a mount renamed into tmp/ first, then deleted (a kill
// at any point leaves the whole entry or none of it). Returns whether it went.
bool remove_build_cache_entry(Store& store, const BuildCacheEntry& e);

// "24h", "90m", "1h30m", "45s" (Go durations, as docker's until=) in seconds; Error(usage).
std::int64_t parse_until(const std::string& text);

} // namespace gantry::store
