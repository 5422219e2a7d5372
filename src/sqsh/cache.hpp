// sqsh/cache: the node-local cache of squashfs images, STORE/sqsh-cache, filled by `pull
// --format squashfs` and shared by every job on the node: one flattened copy per image
// (compressed: far smaller than unpacked layers), in the shared-store layout (sqsh/shared.hpp),
// so it is read the same way: `run REF` looks there after the store and before the shared stores.
//
// Least recently used first: a run from the cache sets its object's mtime (the one write a run
// from the cache makes), and `system prune --sqsh-cache-max SIZE` removes the objects used
// longest ago until the cache fits, with the references naming them (references first: a
// reader never finds a tag without its object). A file a running container is reading stays
// readable after its removal (it is open). `system df` counts the cache.
#pragma once

#include "store/store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gantry::sqsh {

std::string cache_dir(const store::Store& store);

// Where an image the store lacks is looked for, in order: the node's cache, then the shared
// stores (configured_stores(GIVEN), which reads the configuration).
std::vector<std::string> search_dirs(const store::Store& store,
                                     const std::vector<std::string>& given);

struct CacheUsage {
    std::size_t images = 0; // objects
    std::uint64_t bytes = 0;
};
CacheUsage cache_usage(const store::Store& store);

// Marks FILE (an object of the cache) used now; errors ignored (a read-only store still runs).
void touch_cached(const std::string& file);

struct CachePruned {
    std::size_t removed = 0;
    std::uint64_t freed = 0;
};
// Removes objects no reference names, then, with MAX_BYTES, the least recently used until the
// cache holds at most that many bytes.
CachePruned prune_cache(const store::Store& store, std::optional<std::uint64_t> max_bytes);

} // namespace gantry::sqsh
