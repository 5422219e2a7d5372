// lazy/zstd_chunked_writer: zstd:chunked layers and images written from the store's (`gantry push
// --compression zstd:chunked`), in the current generation's layout (containers/storage >= 1.50,
// pkg/chunked/internal/minimal/compression.go; ../shared/reference/lazy-pull.md §2).
//
// A layer (any tar the store holds) is re-written through libarchive (pax) into zstd frames: the
// tar headers and padding in frames of their own, each regular file's content cut into chunks of
// CHUNK_SIZE bytes, each chunk one frame (a reader fetches and checks one chunk with one Range
// request). Then three skippable frames: the TOC (CRFS JSON, `endOffset` per file, `chunkDigest`
// per chunk, `tarSplitDigest`), the tar-split (vbatts/tar-split JSON lines: the tar's bytes that
// are not file content, and each file's name, size and crc64, lazy/tar_split.hpp) and the 64-byte
// `GNUlInUx` footer. The blob is a valid tar+zstd stream: plain clients decompress it to the tar.
// Fixed-size chunks, not containers/storage's rolling checksum: the format leaves the cut to the
// writer, and no "zeros" chunks are written. A layer's root entry (`.`, `./`) is written as any
// directory (the TOC and the tar-split name it; the reader takes it for the root), eStargz's own
// files of a layer pulled from eStargz are dropped, and a sparse file is written whole
// (lazy/toc_entry.hpp).
#pragma once

#include "lazy/zstd_chunked_toc.hpp"
#include "oci/digest.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <string>

namespace gantry::lazy::zstd_chunked {

inline constexpr std::uint64_t kDefaultChunkSize = 1u << 20;

struct WrittenLayer {
    oci::Digest digest;         // of the blob
    oci::Digest diff_id;        // of the uncompressed tar
    std::uint64_t size = 0;     // of the blob
    std::uint64_t tar_size = 0; // of the uncompressed tar
    Layout layout;              // what the descriptor's annotations say
};

// Writes the layer tar read from IN_FD (compressed or not) as zstd:chunked to OUT_FD. WHAT names
// the layer in messages.
WrittenLayer write_layer(int in_fd, int out_fd, const std::string& what,
                         std::uint64_t chunk_size = kDefaultChunkSize);

// The image MANIFEST of the store with every layer converted (blobs, a config with the new
// diff_ids, an OCI manifest whose tar+zstd layers carry the io.github.containers.zstd-chunked.*
// annotations), stored as blobs; returns the new manifest's digest (deterministic).
oci::Digest convert_image(store::Store& store, const oci::Digest& manifest,
                          std::uint64_t chunk_size = kDefaultChunkSize);

// The CRC-64/ISO of DATA continuing CRC (as Go's hash/crc64 with crc64.ISO: tar-split's payload).
std::uint64_t crc64_iso(std::uint64_t crc, std::string_view data);

} // namespace gantry::lazy::zstd_chunked
