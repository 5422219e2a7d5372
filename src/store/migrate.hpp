// store/migrate: `gantry system migrate`, an existing store brought to one copy of each layer
// (store/layer_tar.hpp). A layer unpacked before tar-splits were recorded keeps its blob and its
// tree; migrate reads the blob once (verified against its digest and the layer's diff_id),
// records the tar-split from that stream, checks the tree holds every file it references, and
// then, in this order: publishes the tar-split (temp, fsync, rename, directory sync), publishes
// the new meta.json the same way, removes the blob and syncs blobs/. A kill -9 or a crash at any
// point leaves a valid store: the blob until the tar-split and meta.json are durable, readers
// preferring the blob while both exist; running migrate again finishes the work.
#pragma once

#include "store/store.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gantry::store {

struct MigrateResult {
    std::size_t layers = 0;        // layers looked at
    std::size_t migrated = 0;      // blobs removed (or, keep_compressed, tar-splits recorded)
    std::size_t already = 0;       // with a tar-split already
    std::uint64_t bytes_freed = 0; // the blobs removed
    std::vector<std::pair<std::string, std::string>> kept; // diff_id, why its blob stays
};

// KEEP_COMPRESSED: record the tar-splits, remove no blob.
MigrateResult migrate(Store& store, bool keep_compressed);

} // namespace gantry::store
