// lazy/toc: the table of contents of one eStargz layer blob, read as the hostile input it is.
//
// An eStargz blob (docs/lazy-pull.md, ../shared/reference/lazy-pull.md §1) is a gzip tar whose
// file payloads start gzip members of their own, followed by a member holding the tar entry
// `stargz.index.json` (the TOC, JSON) and a 51-byte footer (an empty gzip member whose extra
// field says where the TOC starts; the legacy stargz footer is 47 bytes). This module owns:
// finding and reading the footer, checking the TOC's sha256 against the digest the (verified)
// manifest's `containerd.io/snapshot/stargz/toc.digest` annotation names, and turning the TOC
// into a tree of nodes (dirs, regular files with their chunks, symlinks, hardlinks, devices,
// fifos, xattrs) with the layer's whiteouts recorded for the merge (lazy/tree.hpp) and the
// landmarks and the TOC entry itself hidden. A chunk is trusted only after its sha256 matches
// the TOC's (inflate_chunk). The JSON is read as a stream by lazy/toc_parser.hpp and the tree
// built and checked entry by entry by lazy/toc_builder.hpp.
//
// Refused with Error(invalid) naming the layer: a footer that is not one, a TOC past the blob or
// larger than kMaxTocBytes, more than kMaxEntries entries, names that are absolute, hold `..`,
// NUL or empty components, duplicate entries, chunks out of order, overlapping or leaving gaps,
// offsets past the TOC, hardlinks to nothing, unknown entry types or fields of the wrong type.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace gantry::lazy {

class TocBudget; // lazy/toc_budget.hpp

inline constexpr std::size_t kFooterSize = 51;         // eStargz
inline constexpr std::size_t kLegacyFooterSize = 47;   // the original stargz (CRFS)
inline constexpr std::size_t kMaxTocBytes = 64u << 20; // the TOC's JSON, uncompressed
inline constexpr std::size_t kMaxEntries = 1u << 20;   // TOC entries
inline constexpr std::uint64_t kMaxChunkSize = 64u << 20;
inline constexpr const char* kTocName = "stargz.index.json";
inline constexpr const char* kTocDigestAnnotation = "containerd.io/snapshot/stargz/toc.digest";
inline constexpr const char* kUncompressedSizeAnnotation =
    "io.containers.estargz.uncompressed-size";

// The TOC offset a footer (the blob's last 51 or 47 bytes) names, or -1 when TAIL ends in
// neither footer.
struct Footer {
    std::uint64_t toc_offset = 0;
    std::size_t size = 0; // kFooterSize or kLegacyFooterSize
};
bool parse_footer(std::string_view tail, Footer& out);
// The 51-byte eStargz footer naming TOC_OFFSET (the writer's).
std::string footer_bytes(std::uint64_t toc_offset);

// How a chunk's compressed bytes become the file's: gzip members (eStargz), zstd frames
// (zstd:chunked, lazy/zstd_chunked_toc.hpp), or none (a zstd:chunked "zeros" chunk, a hole).
enum class Codec : std::uint8_t { gzip, zstd, zeros };

// The layout a TOC's JSON describes: eStargz's, or zstd:chunked's (the same CRFS entries, with
// `endOffset`, a file's own `digest` standing for its single chunk's, and `chunkType`).
enum class TocFormat : std::uint8_t { estargz, zstd_chunked };

// A piece of a regular file: the gzip member at blob offset OFFSET (compressed bytes up to END),
// whose inflated bytes from INNER_OFFSET are the file's bytes [file_offset, file_offset + size).
struct Chunk {
    Codec codec = Codec::gzip;
    std::uint64_t offset = 0, end = 0;
    std::uint64_t inner_offset = 0;
    std::uint64_t file_offset = 0, size = 0;
    std::string digest; // "sha256:<hex>" of the chunk's bytes
};

struct Node {
    mode_t mode = 0; // type bits and permissions
    std::uint32_t uid = 0, gid = 0;
    std::uint64_t size = 0;
    std::int64_t mtime = 0; // seconds since the epoch
    std::uint32_t dev_major = 0, dev_minor = 0;
    std::uint32_t nlink = 1;
    std::string link; // a symlink's target
    std::vector<std::pair<std::string, std::string>> xattrs;
    std::vector<Chunk> chunks;                                  // regular files, in file order
    std::map<std::string, std::uint32_t, std::less<>> children; // directories: name -> node index
    // whiteouts of this layer (directories): hide lower layers' entries or all of them
    std::set<std::string> whiteouts;
    bool opaque = false;
    bool declared = false; // the TOC had an entry for it (not only a parent of one)
};

class Toc {
  public:
    // Reads the TOC of the blob of BLOB_SIZE bytes that READ(offset, length) returns bytes of,
    // checks its sha256 against TOC_DIGEST ("sha256:<hex>", from the verified manifest) and
    // builds the tree. WHAT names the layer in messages ("layer sha256:ab12… of IMAGE").
    // JSON_OUT, when given, receives the verified TOC JSON. BUDGET, when given, is charged
    // for the tree as it is built (the image's, across its layers: lazy/toc_budget.hpp).
    using ReadAt = std::function<std::string(std::uint64_t offset, std::size_t length)>;
    static Toc read(const ReadAt& read, std::uint64_t blob_size, const std::string& toc_digest,
                    const std::string& what, std::string* json_out = nullptr,
                    TocBudget* budget = nullptr);
    // The TOC JSON (already verified, or fuzz input) of a blob whose TOC starts at TOC_OFFSET
    // (for zstd:chunked: where its skippable frame starts; no chunk may reach past it). Read as
    // a stream, never as a DOM (lazy/toc_parser.hpp).
    static Toc parse(std::string_view json, std::uint64_t toc_offset, const std::string& what,
                     TocFormat format = TocFormat::estargz, TocBudget* budget = nullptr);
    // The TOC JSON inside the gzip member COMPRESSED (the blob from the TOC's offset to the
    // footer): Error(invalid) unless it is one tar entry stargz.index.json of <= kMaxTocBytes.
    static std::string unpack_toc(std::string_view compressed, const std::string& what);

    std::vector<Node> nodes; // [0] is the root directory
    std::uint64_t toc_offset = 0;
    std::uint64_t prefetch_landmark = 0; // where `.prefetch.landmark` starts (0: none)
    std::string json_digest;             // "sha256:<hex>" of the TOC JSON
    std::string tar_split_digest;        // the JSON's top-level "tarSplitDigest" string, or ""
};

// The bytes of CHUNK from COMPRESSED (the blob's bytes [chunk.offset, chunk.end)), inflated and
// checked against the chunk's digest; Error(invalid) naming WHAT when they do not match.
std::string inflate_chunk(std::string_view compressed, const Chunk& chunk, const std::string& what);
// Error(invalid) naming the chunk when BYTES are not the ones its digest names.
void verify_chunk(std::string_view bytes, const Chunk& chunk, const std::string& what);

} // namespace gantry::lazy
