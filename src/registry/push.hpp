// push: an image of the store to a registry. Each blob (config and layers, in parallel) is
// checked with HEAD and skipped when the registry has it, mounted from another repository of the
// same registry when the store holds an image of that repository with the blob, else uploaded
// (one PUT up to chunk_size, PATCH chunks beyond); then the manifest is put, byte for byte as
// stored, so its digest is unchanged. A name holding several platforms (store/platforms.hpp)
// pushes each image by its digest, then their index under the tag.
#pragma once

#include "oci/digest.hpp"
#include "registry/client.hpp"
#include "registry/progress.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace gantry::registry {

struct PushOptions {
    ClientOptions client;
    std::uint64_t chunk_size = 64u << 20; // blobs above this go up in PATCH chunks of this size
    unsigned jobs = 3;
    bool quiet = false;
    bool tty = false;
    // Push this manifest of the store (`push --compression estargz`'s converted one, which no
    // reference names) instead of SRC's; SRC still gives the default destination.
    std::optional<oci::Digest> manifest;
    ProgressObserver observer; // told of each blob's progress (the Engine API's stream)
};

struct PushResult {
    std::string ref;                // destination, normalised
    oci::Digest manifest;           // the image's, or the index's
    std::int64_t manifest_size = 0; // its bytes
    std::size_t platforms = 0;      // the index's images (0: one image pushed)
    std::size_t blobs = 0, uploaded = 0, existing = 0, mounted = 0;
};

PushResult push(store::Store& store, const std::string& src, const std::string& dest,
                const PushOptions& opt);

} // namespace gantry::registry
