// lazy/zstd_chunked_toc: where a zstd:chunked layer blob keeps its table of contents and its
// tar-split, in both generations, and how their bytes are trusted.
//
// A zstd:chunked blob (../shared/reference/lazy-pull.md §2) is a tar+zstd layer whose file
// payloads are zstd frames of their own, followed by zstd skippable frames (magic 50 2A 4D 18,
// LE32 size) holding the compressed TOC (CRFS JSON, as eStargz's), in the current generation the
// compressed tar-split (JSON lines, lazy/tar_split.hpp), and a footer repeating their positions.
// The layer descriptor's annotations say the same, and only they are trusted (as containers/
// storage does): `manifest-checksum` is the sha256 of the *compressed* TOC bytes.
//
//   generation     annotation prefix                     footer payload             tar-split
//   old (Debian 12 `io.containers.zstd-chunked.`          40 B, magic GnUlInUx       none
//   skopeo/podman)
//   current        `io.github.containers.zstd-chunked.`   64 B, magic GNUlInUx       yes
//   (c/storage 1.48-1.49 wrote a 56-byte footer with the magic at bytes 32-39: read too)
//
// This module owns the annotations' parsing, the footer's bytes (read and, for the writer,
// written), reading and verifying the TOC (then lazy::Toc::parse in its zstd:chunked form) and
// the tar-split's compressed bytes, and decoding a chunk (zstd frames, or a "zeros" hole) checked
// against its digest. Refused with Error(invalid) naming the layer: positions that are not
// numbers, past the blob or over the size limits, a checksum that is not sha256, one that does
// not match, a frame that decompresses to more or fewer bytes than declared.
#pragma once

#include "lazy/toc.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace gantry::lazy::zstd_chunked {

inline constexpr const char* kOldPrefix = "io.containers.zstd-chunked.";
inline constexpr const char* kPrefix = "io.github.containers.zstd-chunked.";
inline constexpr const char* kMediaType = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::uint32_t kSkippableMagic = 0x184D2A50;
inline constexpr std::size_t kOldFooterSize = 8 + 40; // the skippable frame's header + payload
inline constexpr std::size_t kBuggyFooterSize = 8 + 56;
inline constexpr std::size_t kFooterSize = 8 + 64;
inline constexpr std::size_t kMaxTarSplitBytes = 256u << 20; // uncompressed

// offset:compressed:uncompressed (the offset already past the skippable frame's header)
struct Position {
    std::uint64_t offset = 0, compressed = 0, uncompressed = 0;
    bool operator==(const Position&) const = default;
};

enum class Generation : std::uint8_t { old, current };

// What a layer descriptor's annotations say.
struct Layout {
    Generation generation = Generation::current;
    std::string toc_checksum; // "sha256:<hex>" of the compressed TOC
    Position toc;
    std::optional<Position> tar_split;
    std::string tar_split_checksum; // from the annotation, when the writer set one
};

// The layout ANNOTATIONS describe; nullopt when they have no manifest-position of either
// prefix (not zstd:chunked). Error(invalid) naming WHAT when they are malformed.
std::optional<Layout> layout_of(const std::map<std::string, std::string>& annotations,
                                const std::string& what);
// The annotations LAYOUT is written as (current generation).
std::map<std::string, std::string> annotations_of(const Layout& layout);

// The footer at the end of TAIL (the blob's last bytes): the 40-, 56- or 64-byte payload.
struct Footer {
    Generation generation = Generation::current;
    std::size_t size = 0; // with the frame's header
    Position toc;
    std::uint64_t toc_type = 0;
    std::optional<Position> tar_split;
};
bool parse_footer(std::string_view tail, Footer& out);
// The current generation's 72 bytes.
std::string footer_bytes(const Position& toc, const Position& tar_split);
// A skippable frame holding PAYLOAD.
std::string skippable_frame(std::string_view payload);

using ReadAt = Toc::ReadAt;

// Reads the TOC of the blob of BLOB_SIZE bytes (READ returns its bytes) where LAYOUT says, checks
// the compressed bytes' sha256 against the layout's checksum, decompresses them (exactly the
// declared size, at most kMaxTocBytes) and parses them. JSON_OUT receives the verified JSON.
Toc read_toc(const ReadAt& read, std::uint64_t blob_size, const Layout& layout,
             const std::string& what, std::string* json_out = nullptr,
             TocBudget* budget = nullptr); // charged as Toc::parse's

// The tar-split's JSON lines, verified against CHECKSUM ("sha256:<hex>" of the compressed
// bytes: the verified TOC's `tarSplitDigest`, else the layout's annotation).
std::string read_tar_split(const ReadAt& read, std::uint64_t blob_size, const Position& at,
                           const std::string& checksum, const std::string& what);

// The zstd frame(s) COMPRESSED decompressed to exactly LIMIT bytes; Error(invalid) naming WHAT.
std::string decompress_exact(std::string_view compressed, std::uint64_t size,
                             const std::string& what);

} // namespace gantry::lazy::zstd_chunked

namespace gantry::lazy {
// CHUNK's bytes (Codec::zstd frames in COMPRESSED, or Codec::zeros) checked against its digest:
// what inflate_chunk does for a zstd:chunked chunk.
std::string decode_zstd_chunk(std::string_view compressed, const Chunk& chunk,
                              const std::string& what);
} // namespace gantry::lazy
