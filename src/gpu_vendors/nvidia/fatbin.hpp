// compat/fatbin: finds every CUDA fat binary container in a file and lists its entries, without
// executing or linking anything. Containers sit in .nv_fatbin, __nv_relfatbin (-rdc), but also in
// .ldata / .cask_resource / plain data (cuFFT, cuBLASLt, cuDNN), so every section with file
// contents is scanned for the container magic (PT_LOAD segments when there are no section
// headers, the whole file when it is not ELF, e.g. a raw .fatbin). Layout: reference cuda.md §3.
//
// Hostile input is expected: every read is bounds-checked against the mapped file, sizes that
// point past their region end the container (recorded in FatbinContainer::error), and the scan
// continues after them. Decompression is bounded by the entry's declared size and a cap.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

enum class EntryKind { ptx, sass, lto, unknown }; // fatbin kinds 1, 2 (and 4, old cubin), 8
enum class Compression { none, lz4, zstd };       // flags 0x2000, 0x8000
enum class ArchVariant { plain, a, f };           // flags 0x100000 (sm_XXa), 0x200000 (sm_XXf)

const char* to_string(EntryKind k);   // "ptx", "sass", "lto", "unknown"
const char* to_string(Compression c); // "none", "lz4", "zstd"

// Whether a cubin holds device code; unknown when it was not inspected (compressed, too large).
enum class HasCode { unknown, yes, no };

struct FatbinEntry {
    EntryKind kind = EntryKind::unknown;
    std::uint16_t raw_kind = 0;
    unsigned arch = 0; // SM number: 75, 80, 90, 100, 121 (compute capability = arch/10 . arch%10)
    ArchVariant variant = ArchVariant::plain;
    Compression compression = Compression::none;
    std::uint64_t flags = 0;
    std::uint64_t offset = 0;            // file offset of the entry header
    std::uint32_t header_size = 0;       // entry header bytes
    std::uint64_t size = 0;              // payload bytes on disk (compressed and padded)
    std::uint64_t compressed_size = 0;   // exact compressed bytes (0 when uncompressed)
    std::uint64_t uncompressed_size = 0; // payload bytes once decompressed (== size if none)
    std::uint16_t code_major = 0, code_minor = 0; // PTX: the PTX ISA; SASS: cubin ABI (1.8)
    // SASS, when the cubin was inspected (see FatbinOptions::cubin):
    unsigned cubin_sm = 0; // from the cubin's e_flags; 0 = not read
    unsigned toolkit = 0;  // .note.nv.cuinfo: 10*major + minor of the building CUDA (130)
    HasCode has_code = HasCode::unknown;
    std::string cubin_error;   // why the cubin could not be read (corrupt, failed to decompress)
    bool relocatable = false;  // from __nv_relfatbin: device-link input the runtime never loads
    bool stub = false;         // in an nvlink stub container (empty cubins nvcc always emits)
    std::size_t container = 0; // index into FatbinFile::containers

    std::uint64_t disk_size() const { return header_size + size; }
    std::string arch_name() const; // "sm_90a", "compute_90", "lto_100", "kind9_80"
    std::string cc() const;        // "9.0" for arch 90
    bool is_ptx() const { return kind == EntryKind::ptx; }
    bool is_sass() const { return kind == EntryKind::sass; }
};

struct FatbinContainer {
    std::uint64_t offset = 0;   // file offset of the container header
    std::uint64_t size = 0;     // header + entries as walked (bounded by the region)
    std::uint64_t declared = 0; // header + fatSize as the header claims
    std::string region;         // ".nv_fatbin", "__nv_relfatbin", ".ldata", "PT_LOAD[2]", "file"
    bool relocatable = false;   // region is __nv_relfatbin
    bool stub = false;          // nvcc's nvlink container: every entry an empty cubin
    std::size_t first_entry = 0, entry_count = 0; // into FatbinFile::entries
    std::string error; // non-empty: truncated / malformed (entries read before it stay)
};

struct FatbinFile {
    std::string path;
    std::uint64_t file_size = 0;
    bool elf = false;
    std::vector<FatbinContainer> containers;
    std::vector<FatbinEntry> entries;  // every entry, in file order, stubs included
    std::vector<std::string> problems; // malformed input found on the way, one line each

    // Entries that carry kernels: not in stub containers.
    std::vector<FatbinEntry> kernel_entries() const;
    std::size_t stub_containers() const;
};

struct FatbinOptions {
    enum class Cubin {
        none,  // entry headers only (fastest; stubs are not recognised)
        cheap, // parse uncompressed cubins in place; decompress compressed ones up to 64 KiB
        all,   // also decompress larger compressed cubins, up to max_decompress
    };
    Cubin cubin = Cubin::cheap;
    std::uint64_t max_decompress = 256u << 20;
};

// Scans a file (mapped read-only). Throws Error(not_found/io) when it cannot be opened; never
// throws for malformed contents (they end up in problems / container errors).
FatbinFile scan_fatbin_file(const std::string& path, const FatbinOptions& opts = {});

// Scans bytes already in memory (an ELF image, a raw fatbin, or arbitrary bytes).
FatbinFile scan_fatbin_bytes(std::string_view data, const FatbinOptions& opts = {});

} // namespace gantry::gpu_vendors::nvidia
