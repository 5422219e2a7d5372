// lazy/store_layers: a lazily pulled image's local copies becoming an ordinary store image, and
// the rest of a lazy record's life (how much is local, removal).
//
// A layer whose local copy is complete (its LocalMap) is verified as `gantry pull` verifies a
// download (the blob's sha256 against the manifest, the unpacked tar's against the config's
// diff_id) and becomes the blob and unpacked layer `gantry pull` makes, through the same
// importer (synced, renamed into place; the copy is copied: a detached container's serving
// process may still write it). Once every
// layer is in, the image is named in refs.json (names last) and the lazy record and its copies
// are removed: later containers, `run --pull lazy` included, take the store's path. A copy that
// does not match its digest is marked not local (its map cleared) and fetched again.
#pragma once

#include "lazy/image.hpp"
#include "lazy/local_map.hpp"
#include "registry/pull.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace gantry::lazy {

// ROOT/lazy/blobs/<hex> (the local copy of layer DIGEST) and its map.
store::stdfs::path local_copy(const store::Store& store, const oci::Digest& digest);

// The map of LAYER's local copy (TOC: its table of contents); CREATE: made when missing, else
// a missing map is an empty one (nothing local).
std::shared_ptr<LocalMap> open_local_map(const store::Store& store, const Record::Layer& layer,
                                         const Toc& toc, bool create);

struct LocalBytes {
    std::uint64_t local = 0, total = 0;
};
// How much of RECORD's layer blobs is local (its maps; the TOCs read from the store).
LocalBytes local_bytes(const store::Store& store, const Record& record);

// The lazy records of the store (damaged ones left out: `system fsck` names them).
std::vector<Record> records(const store::Store& store);

// "lazy, 37% local" (`ps`, `images`), or "" when REF has no lazy record; JSON_OUT, when
// given, receives {"local": bytes, "total": bytes}.
std::string local_text(const store::Store& store, const std::string& ref,
                       std::pair<std::uint64_t, std::uint64_t>* bytes_out = nullptr);

// Makes RECORD's complete layers store layers, and the image a store image once all are;
// returns whether it now is one. PRIVILEGED: real root (owners and devices kept, as pull).
// ABANDONED is asked before each layer, every 16 MiB of one and before the name is written:
// once true, the work stops (the layer being made is not committed; those made stay in the
// store for a later run or `system prune`), the image stays lazy and false is returned.
bool keep_local_layers(store::Store& store, const Record& record, bool privileged,
                       const std::function<bool()>& abandoned = {});

// `gantry pull` of an image pulled lazily: when the registry still names RECORD's manifest, what
// the local copies lack is fetched (Range requests, none for what is local), then
// keep_local_layers(): true (a squashfs artifact: its blob completed into the node's .sqsh
// cache, lazy/squashfs_local.hpp). False (the record removed) when the name moved on: pull it
// anew.
bool complete(store::Store& store, const Record& record, const registry::PullOptions& opt);

// Whether REF names an image of the store and no lazy record (`run --pull lazy` then takes the
// store's path).
bool in_store(const store::Store& store, const std::string& ref);

// Removes RECORD, its local copies and their maps (`gantry rmi`); the working set stays.
void remove(store::Store& store, const Record& record);
// The same for the record of REF: whether there was one (a damaged one is removed too).
bool remove_named(store::Store& store, const std::string& ref);

} // namespace gantry::lazy
