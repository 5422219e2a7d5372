// lazy/squashfs_local: a squashfs artifact (lazy/squashfs_artifact.hpp) run lazily becomes the
// node's `.sqsh` cache entry (sqsh/cache.hpp) once every byte of it is local, so that later runs
// of the reference (`run --pull lazy REF`, and a plain `run REF`) mount it from the node with no
// registry access, as `pull --format squashfs` would have left it.
//
// When: after a run (the serving process ended: its reads and its background fetch,
// BlockFetcher::fetch_the_rest, made the blob local), or `gantry pull REF`, when the blob's
// sparse copy ROOT/lazy/blobs/<hex> has no hole left (SEEK_HOLE; each block was written
// whole). How: the copy is copied into the cache under a temporary name while hashed, kept only
// when it is the blob the manifest names (a registry that lied, or a file system without SEEK_HOLE:
// dropped, fetched again), synced, linked in, the directory synced; the manifest and config next,
// the reference last (docs/storage.md). With a block-digest table the ranges earlier runs wrote
// count (checked against the table when first read), so runs add up; `gantry pull REF` fetches
// the rest (complete_squashfs). The sparse copy is then removed; the lazy record stays
// (its manifest, config and block-digest table are store blobs): it is what a later
// `run --pull lazy` finds without asking the registry.
//
// Reading the entry back: with a block-digest table every 1 MiB range is checked against it on
// its first read (a damaged entry fails that read with EIO and is removed when the container
// ends; the next run fetches the image again); without one (an artifact pushed before tables)
// the whole entry is hashed when it is opened and, if it does not match, removed and not used.
#pragma once

#include "lazy/image.hpp"
#include "lazy/store_layers.hpp"
#include "store/store.hpp"

#include <optional>
#include <string>

namespace gantry::lazy {

// After a run of RECORD (a squashfs artifact): its complete sparse copy made the cache entry,
// as above. Returns whether the cache now holds it.
bool keep_squashfs(store::Store& store, const Record& record,
                   const std::function<bool()>& abandoned = {});

// `gantry pull REF` of a squashfs artifact pulled lazily: the ranges the sparse copy lacks (or
// that do not match the block-digest table) fetched, then keep_squashfs(); Error naming the
// blob when it is still not the manifest's. CLIENT reads the registry; QUIET: no progress line.
void complete_squashfs(store::Store& store, const Record& record,
                       const registry::ClientOptions& client, bool quiet);

// How much of RECORD's blob is local: all of it once in the node's cache, else the bytes its
// sparse copy holds (SEEK_DATA; unchecked until read). For `ps` and `images`.
LocalBytes squashfs_local_bytes(const store::Store& store, const Record& record);

// The cache entry of RECORD's image when it has one of the blob's size (else nullopt). WHOLE:
// check its sha256 first (an artifact without a block-digest table); a wrong one is removed.
std::optional<std::string> cached_squashfs(const store::Store& store, const Record& record,
                                           bool whole);

} // namespace gantry::lazy
