// compat/elf_bytes: bounds-checked reading of an ELF64 little-endian file held in memory, what
// the fatbin scanner and the forward-compatibility note reader share: reads that fail instead of
// leaving the byte range, the ELF check, and the regions of a file worth scanning. Internal to
// compat/; the bytes are untrusted (image files, driver libraries).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace gantry::compat {

inline constexpr std::uint32_t kShtNote = 7, kShtNobits = 8, kPtLoad = 1;

// Bounds-checked little-endian reads over a byte range. Every accessor fails (returns false)
// instead of reading outside [0, n).
struct Bytes {
    const unsigned char* p = nullptr;
    std::uint64_t n = 0;

    bool has(std::uint64_t off, std::uint64_t len) const { return off <= n && len <= n - off; }
    template <typename T>
    bool rd(std::uint64_t off, T& out) const {
        if (!has(off, sizeof(T))) return false;
        std::memcpy(&out, p + off, sizeof(T)); // hosts are little-endian (x86_64, aarch64)
        return true;
    }
    template <typename T>
    T get(std::uint64_t off) const { // 0 when out of range (for callers that checked has())
        T v{};
        rd(off, v);
        return v;
    }
    Bytes sub(std::uint64_t off, std::uint64_t len) const {
        if (!has(off, len)) return {};
        return {p + off, len};
    }
};

// A range of the file: a section, a PT_LOAD segment, or the whole file.
struct Region {
    std::uint64_t off, len;
    std::string name;
};

// An ELF64 little-endian file (the only kind CUDA ships).
bool is_elf64le(Bytes f);

// Regions of an ELF64 file worth scanning: sections with file contents, else PT_LOAD segments.
// Overlaps are trimmed so no byte is scanned twice. Malformed headers add a line to problems.
std::vector<Region> elf_regions(Bytes f, std::vector<std::string>& problems);

} // namespace gantry::compat
