// layer/tar_split: vbatts/tar-split's JSON lines (what a current-generation zstd:chunked layer
// carries, lazy/zstd_chunked_toc.hpp, and what the store keeps beside each unpacked layer,
// store/layer_tar.hpp), read as hostile input, and the exact tar they describe put back together
// (lazy/tar_split.hpp checks a lazy layer's against its table of contents).
//
// Each line is one object: {"type":2,"payload":BASE64,"position":N} holds raw tar bytes (headers,
// padding, the end blocks), {"type":1,"name":NAME,"size":S,"payload":BASE64(crc64),"position":N}
// stands for the S content bytes of the file NAME ("name_raw": BASE64 when the name is not
// UTF-8). Positions count up from 0. This module owns: parsing (refused with Error(invalid)
// naming the layer: lines that are not such objects, unknown types, positions out of order,
// payloads that are not base64, names empty, absolute, with `..` or a component over 255 bytes,
// more than kMaxEntries lines, sizes over the limits; the layer's root entry `.` or `./` is the
// root, as containers/storage reads it), and the reassembly (segments, then each file's bytes from
// a reader) that a plain tar consumer sees: the same bytes as the layer's uncompressed tar, so the
// same diff_id.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::layer::tar_split {

inline constexpr std::size_t kMaxEntries = 1u << 20; // lines (the lazy TOC's limit too)

struct Entry {
    bool file = false;      // type 1 (a file's content), else type 2 (raw tar bytes)
    std::string name;       // files
    std::uint64_t size = 0; // files: content bytes
    std::string payload;    // segments: the raw bytes; files: the content's crc64 (8 bytes)
};

// CRC_REQUIRED: a file with content must carry its crc64 (a registry's zstd:chunked layer);
// the store's own records carry none (the diff_id checks the whole tar, store/layer_tar.hpp).
std::vector<Entry> parse(std::string_view text, const std::string& what, bool crc_required = true);

// NAME's components (none for the layer's root, "." or "./"); Error(invalid) naming WHAT for an
// empty or absolute name, or one with "..", NUL or a component over 255 bytes.
std::vector<std::string> components(const std::string& name, const std::string& what);

// The tar ENTRIES describe, written through SINK; FILE_BYTES(name, size) returns a file's
// content (its size checked here).
void assemble(
    const std::vector<Entry>& entries,
    const std::function<std::string(const std::string& name, std::uint64_t size)>& file_bytes,
    const std::function<void(std::string_view)>& sink, const std::string& what);

// One JSON line of ENTRY at POSITION (the writer's; lines end in '\n').
std::string line(const Entry& entry, std::uint64_t position);

} // namespace gantry::layer::tar_split
