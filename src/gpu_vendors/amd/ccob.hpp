// tailor/ccob: the exact reading and the writing of clang offload bundles that the HIP rewrite
// (hip.cpp) needs: an uncompressed bundle's entry table parsed strictly (compat/hip_fatbin's
// reader is lenient where a rewrite must not be: overlapping entries, a table running into the
// code objects, IDs that are not target text, duplicate IDs), a pruned bundle laid out again, and
// compressed bundles ("CCOB" v1/v2/v3, zlib = method 0, zstd = method 1) decoded with their hash
// checked and encoded with a new one.
//
// Layout and hash, from LLVM's clang/lib/Driver/OffloadBundler.cpp (CompressedOffloadBundle::
// compress): "CCOB", u16 version, u16 method, then v1: u32 uncompressed size; v2: u32 total size,
// u32 uncompressed size; v3: u64 total size, u64 uncompressed size; then u64 hash, then one zlib
// stream or zstd frame holding the whole uncompressed bundle. total = header + compressed bytes.
// hash = MD5(uncompressed bundle).low(): the digest's first 8 bytes read as a little-endian u64.
//
// Every input is hostile: sizes are bounded before anything is allocated, and malformed bytes
// throw gantry::Error(invalid) saying what is wrong (the callers add where).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_vendors::amd::ccob {

inline constexpr std::string_view kBundleMagic = "__CLANG_OFFLOAD_BUNDLE__"; // 24 bytes
inline constexpr std::string_view kCcobMagic = "CCOB";
inline constexpr std::uint64_t kMaxIdLength = 1024;

struct Entry {
    std::uint64_t offset = 0, size = 0; // from the start of the bundle
    std::string id;                     // "hipv4-amdgcn-amd-amdhsa--gfx90a:xnack-"
};

// An uncompressed bundle, parsed strictly.
struct Bundle {
    std::vector<Entry> entries;  // in table order
    std::uint64_t table_end = 0; // magic + count + entry table
    std::uint64_t span = 0;      // max(table_end, end of the last code object)
};

// Parses the bundle at the start of `b` (the bytes from the bundle's start to the end of its
// section, or the whole decompressed data of a CCOB). Refused (Error(invalid)): no magic, no
// entries, a count the bytes cannot hold, an ID empty, longer than kMaxIdLength, with a byte
// outside printable ASCII, or given twice, an entry whose code object starts inside the table or
// runs past `b`, two code objects that overlap.
Bundle parse_bundle(std::string_view b);

// The bytes of an entry table: magic, count, then per entry u64 offset, size, ID length, ID.
std::string table_bytes(const std::vector<Entry>& entries);

// A pruned copy of `original` (parsed as `parsed`): the entries `keep` (indexes, table order)
// with their code objects byte-identical, laid out as the bundler does: the table, then the code
// objects in their original order, each at the next multiple of the original's alignment (the
// largest power of two, at most 64 KiB, that every original code object's offset is a multiple
// of); empty entries point where the first code object goes. The result ends with its last
// code object.
std::string rebuild_bundle(std::string_view original, const Bundle& parsed,
                           const std::vector<std::size_t>& keep);

struct Compressed {
    unsigned version = 0, method = 0; // 1..3; 0 zlib, 1 zstd
    std::uint64_t header = 0;         // 20, 24 or 32 bytes
    std::uint64_t span = 0;           // bytes it occupies: header + compressed stream
    std::uint64_t hash = 0;           // as stored (and checked)
    std::string data;                 // the uncompressed bundle
};

// LLVM's hash of an uncompressed bundle: MD5(data).low().
std::uint64_t bundle_hash(std::string_view data);

// Decodes the CCOB at the start of `b`. Refused: unknown version or method, a truncated header, a
// total size (v2/v3) that is not exactly header + compressed stream or runs past `b`, an
// uncompressed size over max_uncompressed, a stream that is corrupt or does not inflate to
// exactly the declared size, a hash that does not match.
Compressed decode(std::string_view b, std::uint64_t max_uncompressed);

// Compresses `bundle` as a CCOB of the same version and method, trying the method's default
// level, then its strongest; returns the first that fits in `room` bytes, or "" when none does
// (or the sizes do not fit the version's fields).
std::string encode(unsigned version, unsigned method, std::string_view bundle, std::uint64_t room);

} // namespace gantry::gpu_vendors::amd::ccob
