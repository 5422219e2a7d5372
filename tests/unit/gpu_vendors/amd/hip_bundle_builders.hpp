// Builders for gpu_vendors/amd/hip_fatbin's unit tests: AMD GPU code object headers, clang offload
// bundles laid out as the bundler writes them (reference rocm.md §5), host ELF files holding a
// .hip_fatbin section, and compressed bundles ("CCOB" v1/v2/v3) made with zlib and zstd, plus
// helpers that read bytes and return the Error they raise. Shared by test_hip_fatbin.cpp and
// test_hip_fatbin_damaged.cpp.
#pragma once

#include "gpu_vendors/amd/hip_fatbin.hpp"
#include "util/error.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>
#include <vector>
#include <zlib.h>
#include <zstd.h>

namespace hip_bundle_test {

using namespace gantry::gpu_vendors::amd;
using gantry::Errc;
using gantry::Error;

inline void put16(std::string& s, size_t at, std::uint16_t v) {
    std::memcpy(s.data() + at, &v, 2);
}
inline void put32(std::string& s, size_t at, std::uint32_t v) {
    std::memcpy(s.data() + at, &v, 4);
}
inline void put64(std::string& s, size_t at, std::uint64_t v) {
    std::memcpy(s.data() + at, &v, 8);
}
inline void append64(std::string& s, std::uint64_t v) {
    s.append(reinterpret_cast<const char*>(&v), 8);
}

// An AMD GPU code object: just the ELF header (EM_AMDGPU, EI_OSABI 64) padded to size bytes.
inline std::string code_object(std::uint32_t e_flags, std::size_t size,
                               std::uint8_t abi_version = 2) {
    std::string s(size, '\0');
    std::memcpy(s.data(),
                "\x7f"
                "ELF",
                4);
    s[4] = 2; // ELFCLASS64
    s[5] = 1; // little-endian
    s[6] = 1;
    s[7] = 64; // ELFOSABI_AMDGPU_HSA
    s[8] = static_cast<char>(abi_version);
    put16(s, 0x10, 3);   // ET_DYN
    put16(s, 0x12, 224); // EM_AMDGPU
    put32(s, 0x30, e_flags);
    return s;
}

struct Part {
    std::string id;
    std::string bytes; // empty for the host entry
};

// A clang offload bundle as the bundler writes it: header, IDs, then each code object at the
// next 4096-byte boundary; the empty host entry points at the first code object's offset.
inline std::string bundle(const std::vector<Part>& parts, std::uint64_t align = 4096) {
    std::string s = "__CLANG_OFFLOAD_BUNDLE__";
    append64(s, parts.size());
    std::vector<std::uint64_t> offsets;
    std::uint64_t at = align;
    for (const auto& p : parts) {
        offsets.push_back(at);
        if (!p.bytes.empty()) at = (at + p.bytes.size() + align - 1) / align * align;
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
        append64(s, offsets[i]);
        append64(s, parts[i].bytes.size());
        append64(s, parts[i].id.size());
        s += parts[i].id;
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (parts[i].bytes.empty()) continue;
        s.resize(offsets[i], '\0');
        s += parts[i].bytes;
    }
    return s;
}

inline const std::string kPrefix = "hipv4-amdgcn-amd-amdhsa--";

// rocm.md §5's executable: host, gfx1030, gfx90a:xnack-, gfx940.
inline std::string observed_bundle() {
    return bundle({{"host-x86_64-unknown-linux", ""},
                   {kPrefix + "gfx1030", code_object(0x36, 0xc30)},
                   {kPrefix + "gfx90a:xnack-", code_object(0x63f, 0xf70)},
                   {kPrefix + "gfx940", code_object(0x540, 0xf70)}});
}

// rocm.md §5's object file: xnack+ too.
inline std::string five_entry_bundle() {
    return bundle({{"host-x86_64-unknown-linux", ""},
                   {kPrefix + "gfx90a:xnack+", code_object(0x73f, 0xf70)},
                   {kPrefix + "gfx90a:xnack-", code_object(0x63f, 0xf70)},
                   {kPrefix + "gfx940", code_object(0x540, 0xf70)},
                   {kPrefix + "gfx1030", code_object(0x36, 0xc30)}});
}

// A host ELF64 whose only sections are .hip_fatbin (at a 4096 boundary) and .shstrtab.
inline std::string host_elf(const std::string& section, std::uint64_t declared_size = 0) {
    const std::string strtab = std::string("\0.hip_fatbin\0.shstrtab\0", 23);
    std::string f(0x1000, '\0');
    std::memcpy(f.data(),
                "\x7f"
                "ELF",
                4);
    f[4] = 2;
    f[5] = 1;
    f[6] = 1;
    put16(f, 0x10, 1);  // ET_REL
    put16(f, 0x12, 62); // EM_X86_64
    f += section;
    std::uint64_t strtab_off = f.size();
    f += strtab;
    f.resize((f.size() + 7) / 8 * 8, '\0');
    std::uint64_t shoff = f.size();
    f.resize(shoff + 3 * 64, '\0');
    put64(f, 0x28, shoff);
    put16(f, 0x34, 64);
    put16(f, 0x3a, 64);
    put16(f, 0x3c, 3);
    put16(f, 0x3e, 2);
    std::uint64_t h = shoff + 64; // [1] .hip_fatbin
    put32(f, h, 1);
    put32(f, h + 4, 1); // PROGBITS
    put64(f, h + 8, 2); // SHF_ALLOC
    put64(f, h + 24, 0x1000);
    put64(f, h + 32, declared_size ? declared_size : section.size());
    put64(f, h + 48, 4096);
    h += 64; // [2] .shstrtab
    put32(f, h, 13);
    put32(f, h + 4, 3); // STRTAB
    put64(f, h + 24, strtab_off);
    put64(f, h + 32, strtab.size());
    return f;
}

inline std::string zlib_compress(const std::string& in) {
    uLongf n = compressBound(in.size());
    std::string out(n, '\0');
    EXPECT_EQ(compress2(reinterpret_cast<Bytef*>(out.data()), &n,
                        reinterpret_cast<const Bytef*>(in.data()), in.size(), 6),
              Z_OK);
    out.resize(n);
    return out;
}

inline std::string zstd_compress(const std::string& in) {
    std::string out(ZSTD_compressBound(in.size()), '\0');
    std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
    EXPECT_FALSE(ZSTD_isError(n));
    out.resize(n);
    return out;
}

// A CCOB: v1 (u32 uncompressed), v2 (u32 total, u32 uncompressed), v3 (u64 total, u64
// uncompressed), then a u64 hash (not checked by the reader) and the compressed bundle.
inline std::string ccob(unsigned version, unsigned method, const std::string& inner,
                        std::uint64_t declared_uncompressed = 0, std::uint64_t declared_total = 0) {
    std::string payload = method == 0 ? zlib_compress(inner) : zstd_compress(inner);
    std::uint64_t uncompressed = declared_uncompressed ? declared_uncompressed : inner.size();
    std::size_t header = version == 1 ? 20 : version == 2 ? 24 : 32;
    std::string s(header, '\0');
    std::memcpy(s.data(), "CCOB", 4);
    put16(s, 4, static_cast<std::uint16_t>(version));
    put16(s, 6, static_cast<std::uint16_t>(method));
    std::uint64_t total = declared_total ? declared_total : header + payload.size();
    if (version == 1) {
        put32(s, 8, static_cast<std::uint32_t>(uncompressed));
    } else if (version == 2) {
        put32(s, 8, static_cast<std::uint32_t>(total));
        put32(s, 12, static_cast<std::uint32_t>(uncompressed));
    } else {
        put64(s, 8, total);
        put64(s, 16, uncompressed);
    }
    put64(s, header - 8, 0x0123456789abcdefULL);
    return s + payload;
}

inline HipFatbin read(const std::string& bytes, const HipFatbinOptions& opts = {}) {
    return read_hip_fatbin_bytes(bytes, "k_exe", opts);
}

// The Error message for damaged bytes (fails the test when none is thrown).
inline std::string error_of(const std::string& bytes, const HipFatbinOptions& opts = {}) {
    try {
        read(bytes, opts);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_TRUE(e.message().starts_with("k_exe: ")) << e.message();
        return e.message();
    }
    ADD_FAILURE() << "no error";
    return {};
}

inline std::string temp_dir() {
    std::string t = ::testing::TempDir() + "hip_fatbin_XXXXXX";
    EXPECT_NE(::mkdtemp(t.data()), nullptr);
    return t;
}

inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

} // namespace hip_bundle_test
