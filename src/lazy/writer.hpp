// lazy/writer: eStargz layers and images written from the store's (`gantry push --compression
// estargz`).
//
// A layer (any tar the store holds: gzip, zstd or plain) is re-written as eStargz the way
// stargz-snapshotter's estargz.Writer does (estargz/estargz.go, v0.12): the `.no.prefetch.
// landmark` entry first (gantry prioritises no files), each tar header in the current gzip
// member, each file payload cut into chunks of CHUNK_SIZE bytes (4 MiB, estargz's default) that
// each start a gzip member of their own (the tar padding and the next headers follow in it),
// then the TOC (`stargz.index.json`, in a gzip member of its own, with the tar's end) and the
// 51-byte footer. The blob is a valid gzip tar: plain clients pull it as any layer (they also
// unpack stargz.index.json and the landmark into /, as with every eStargz image). A source layer's
// own eStargz files (an image pulled from eStargz) are dropped, a sparse file is written whole
// (lazy/toc_entry.hpp).
#pragma once

#include "oci/digest.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <string>

namespace gantry::lazy {

inline constexpr std::uint64_t kDefaultChunkSize = 4u << 20;

struct EstargzLayer {
    oci::Digest digest;         // of the blob (gzip)
    oci::Digest diff_id;        // of the uncompressed tar
    std::uint64_t size = 0;     // of the blob
    std::uint64_t tar_size = 0; // of the uncompressed tar
    std::string toc_digest;     // "sha256:<hex>" of the TOC JSON
};

// Writes the layer tar read from IN_FD (compressed or not) as eStargz to OUT_FD. WHAT names the
// layer in messages.
EstargzLayer write_estargz(int in_fd, int out_fd, const std::string& what,
                           std::uint64_t chunk_size = kDefaultChunkSize);

// The image MANIFEST of the store with every layer converted (blobs, config with the new
// diff_ids, an OCI manifest whose layers carry the toc.digest annotation), stored as blobs;
// returns the new manifest's digest (the same for the same image: the conversion is
// deterministic).
oci::Digest convert_image(store::Store& store, const oci::Digest& manifest,
                          std::uint64_t chunk_size = kDefaultChunkSize);

} // namespace gantry::lazy
