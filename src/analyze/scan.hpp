// analyze/scan: one streaming pass over a layer blob (compressed bytes -> decompress -> tar
// headers and contents), recording every entry with what the report needs: its tar size, a fast
// content hash (duplicates), and for ELF files the bytes of debug sections and of every CUDA
// fat-binary entry per GPU architecture, and of every HIP code object per gfx target (through
// compat/hip_fatbin's bounded reader). Nothing is written to disk. Layer contents are hostile:
// names are normalised (no "..", no leading "/"), ELF headers are bounds-checked, fat binaries go
// through compat/fatbin's bounded reader.
#pragma once

#include "analyze/tailor_plan.hpp"
#include "gpu_components/recognise.hpp"
#include "layer/stream.hpp"
#include "oci/image.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gantry::analyze {

enum class Kind : std::uint8_t { file, dir, symlink, hardlink, whiteout, opaque, other };
const char* to_string(Kind k);

struct Entry {
    std::string path; // normalised: "usr/bin/x"; whiteout: the path it hides; opaque: the dir
    Kind kind = Kind::other;
    std::uint64_t size = 0;      // tar header size (0 for dirs, links, whiteouts)
    std::uint64_t allocated = 0; // regular files: bytes of 4 KiB blocks holding data (holes out)
    std::uint32_t mode = 0;
    std::string link;        // symlink or hard link target (normalised for hard links)
    std::uint64_t hash = 0;  // content hash of regular files (0 when empty)
    std::uint64_t debug = 0; // ELF: bytes of .debug_* / .zdebug_* sections
    bool elf = false;        // regular file starting with the ELF magic (whatever inspect_elf)
    // ELF: GPU device-code bytes per format and target, as each registered format counts them
    // (device_code::Format::target_bytes): ["cuda"]["sm_90"], ["hip"]["gfx90a:xnack-"].
    std::map<std::string, std::map<std::string, std::uint64_t>> device_code;
    // This file's bytes of FORMAT per target (empty when it has none).
    const std::map<std::string, std::uint64_t>& code_of(const std::string& format) const;
    std::string soname; // ELF: DT_SONAME ("" when none or unreadable)
};

// A small file kept to read: package metadata or a licence text (gpu_components::text_rule
// says which files, and how many bytes of each).
struct KeptText {
    std::uint32_t entry = 0; // index into LayerScan::entries
    gpu_components::TextKind kind = gpu_components::TextKind::none;
    std::string text;
    bool cut = false; // the file is longer than its limit: only the start was kept
};

struct LayerScan {
    std::string blob_hex; // sha256 of the blob bytes read
    std::uint64_t blob_size = 0;
    std::string diff_hex; // sha256 of the uncompressed tar
    std::uint64_t tar_size = 0;
    oci::Compression compression = oci::Compression::none;
    std::uint64_t entry_bytes = 0;      // sum of tar header sizes (dive's layer size)
    std::uint64_t files = 0;            // regular files
    std::vector<Entry> entries;         // in tar order
    std::vector<TailorFilePlan> tailor; // with ScanOptions::keep: files with device code
    std::vector<KeptText> texts;        // package metadata and licence texts
    std::uint64_t texts_skipped = 0;    // such files not kept: ScanOptions::max_texts was reached
};

struct ScanOptions {
    std::string what;                       // "layer 2/5 (sha256:ab12…)" for messages
    std::uint64_t max_elf = 4ull << 30;     // ELF files larger than this are not inspected
    bool inspect_elf = true;                // debug sections, fat binaries, SONAME
    bool keep_texts = true;                 // package metadata and licence texts (KeptText)
    std::uint64_t max_texts = 256ull << 20; // bytes of kept texts per layer, at most
    const tailor::KeepSet* keep = nullptr;  // also plan tailoring of files with device code
    bool verify = true; // sha256 of the blob and of the tar (blob_hex, diff_hex): ~2 more passes
    // 1: everything on the calling thread; 2: reading and decompressing the blob on a second
    // thread; 0: 2 when there are 2+ CPUs. The results are the same.
    unsigned threads = 0;
};

// Scans one layer blob (compression sniffed from the content). Throws Error(invalid) for
// corrupt or non-tar data, naming opt.what.
LayerScan scan_layer(layer::Reader& blob, const ScanOptions& opt);

// Bytes of .debug_* and .zdebug_* sections of an ELF image in memory (0 when not ELF or when
// the section table is malformed). Exposed for tests.
std::uint64_t elf_debug_bytes(std::string_view data);

// A fast incremental 64-bit content hash (not cryptographic: it only groups duplicates).
class FastHash {
  public:
    void update(const void* p, std::size_t n);
    std::uint64_t final() const;

  private:
    std::uint64_t lanes_[4] = {0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull,
                               0x27D4EB2F165667C5ull};
    unsigned char tail_[32] = {};
    std::size_t tail_len_ = 0;
    std::uint64_t total_ = 0;
};

} // namespace gantry::analyze
