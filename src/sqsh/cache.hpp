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
//
// A squashfs artifact run lazily (lazy/squashfs_local.hpp) joins the cache once every byte of it
// is local: add_to_cache copies it into a temporary while hashing it, refuses it unless it is
// the blob the artifact's manifest names, syncs it and links it in, then the manifest, the
// config, and the reference last (docs/storage.md).
#pragma once

#include "oci/digest.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <functional>
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

// DIR/sqsh/<manifest hex>.sqsh of the node's cache (which may not exist).
std::string cached_file(const store::Store& store, const oci::Digest& manifest);

struct CacheImage {
    std::string ref;      // tagged as this (normalised)
    oci::Digest manifest; // the object's key
    std::string manifest_text;
    oci::Digest config;
    std::string config_text;
};
enum class Added { added, already_there, wrong_digest, abandoned };
// Adds the squashfs file FD (SIZE bytes) as IMAGE's object, tagged IMAGE.ref, if its sha256 is
// BLOB (else nothing is added: wrong_digest). Error(io) naming the cache when it cannot write.
// ABANDONED, asked every 16 MiB of the copy: once true, nothing is added (abandoned).
Added add_to_cache(const store::Store& store, const CacheImage& image, int fd, std::uint64_t size,
                   const oci::Digest& blob, const std::function<bool()>& abandoned = {});

// Removes MANIFEST's object from the cache, the references naming it first.
void remove_cached(const store::Store& store, const oci::Digest& manifest);

} // namespace gantry::sqsh
