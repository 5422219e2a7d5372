// lazy/convert: an image in the store re-written layer by layer into a format a lazy pull reads
// (eStargz: lazy/writer, zstd:chunked: lazy/zstd_chunked_writer). What the two share: each
// compressed layer blob read from the store, the new blob committed, the config's diff_ids
// replaced, a new OCI manifest stored. The format is the caller's LayerWriter.
// `push --compression` and `save --compression` both convert through convert_to().
#pragma once

#include "oci/image.hpp"
#include "store/store.hpp"

#include <functional>
#include <string>

namespace gantry::lazy {

// One layer re-written: its descriptor (digest, size, media type, annotations) and diff_id.
struct ConvertedLayer {
    oci::Descriptor descriptor;
    oci::Digest diff_id;
};
// Reads the compressed layer blob IN, writes the new blob to OUT; WHAT names the layer.
using LayerWriter = std::function<ConvertedLayer(int in, int out, const std::string& what)>;

// The digest of the new manifest (stored with its config and layers). Error(invalid) for a
// config without rootfs; Error(not_found) naming a layer blob that is not in the store.
oci::Digest convert_layers(store::Store& store, const oci::Digest& manifest_digest,
                           const LayerWriter& write);

// The lazily readable layer formats gantry writes.
enum class Compression { estargz, zstd_chunked };
// "estargz" or "zstd:chunked"; Error(usage) naming FLAG ("push --compression") otherwise.
Compression parse_compression(const std::string& text, const std::string& flag);
const char* name_of(Compression c); // "estargz", "zstd:chunked"

// The image MANIFEST of the store with its layers re-written as C (lazy/writer.hpp,
// lazy/zstd_chunked_writer.hpp); the new manifest's digest (deterministic).
oci::Digest convert_to(store::Store& store, const oci::Digest& manifest, Compression c);

} // namespace gantry::lazy
