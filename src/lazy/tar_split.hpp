// lazy/tar_split: vbatts/tar-split's JSON lines (what a current-generation zstd:chunked layer
// carries, lazy/zstd_chunked_toc.hpp), read as hostile input, checked against the layer's verified
// table of contents, and the exact tar they describe put back together.
//
// Each line is one object: {"type":2,"payload":BASE64,"position":N} holds raw tar bytes (headers,
// padding, the end blocks), {"type":1,"name":NAME,"size":S,"payload":BASE64(crc64),"position":N}
// stands for the S content bytes of the file NAME ("name_raw": BASE64 when the name is not
// UTF-8). Positions count up from 0. This module owns: parsing (refused with Error(invalid)
// naming the layer: lines that are not such objects, unknown types, positions out of order,
// payloads that are not base64, names empty, absolute, with `..` or a component over 255 bytes,
// more than kMaxEntries lines, sizes over the limits; the layer's root entry `.` or `./` is the
// root, as containers/storage reads it), the check that every file with content is the TOC's
// regular file of that size, and the reassembly (segments, then each file's bytes from a reader)
// that a plain tar consumer sees: the same bytes as the layer's uncompressed tar, so the same
// diff_id.
#pragma once

#include "lazy/toc.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::lazy::tar_split {

struct Entry {
    bool file = false;      // type 1 (a file's content), else type 2 (raw tar bytes)
    std::string name;       // files
    std::uint64_t size = 0; // files: content bytes
    std::string payload;    // segments: the raw bytes; files: the content's crc64 (8 bytes)
};

std::vector<Entry> parse(std::string_view text, const std::string& what);

// Error(invalid) naming WHAT unless every file entry with content names a regular file of TOC
// of that size (hard links and empty files carry none).
void check(const std::vector<Entry>& entries, const Toc& toc, const std::string& what);

// The tar ENTRIES describe, written through SINK; FILE_BYTES(name, size) returns a file's
// content (its size checked here).
void assemble(
    const std::vector<Entry>& entries,
    const std::function<std::string(const std::string& name, std::uint64_t size)>& file_bytes,
    const std::function<void(std::string_view)>& sink, const std::string& what);

// One JSON line of ENTRY at POSITION (the writer's; lines end in '\n').
std::string line(const Entry& entry, std::uint64_t position);

} // namespace gantry::lazy::tar_split
