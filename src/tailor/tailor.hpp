// tailor: keeps only the GPU device code a set of target GPUs can run, in already-built ELF files,
// by rewriting their fat binaries in place: nothing moves, the file keeps its size, and the freed
// bytes become zeros (holes on disk, nothing once compressed). CUDA (`cuda.hpp`): containers in
// .nv_fatbin that a .nvFatBinSegment wrapper references at their start lose the entries no kept
// GPU would load; HIP (`hip.hpp`): clang offload bundles in .hip_fatbin lose the code objects no
// kept GPU runs (compressed CCOB bundles are rebuilt whole). This header holds what both share:
// the kept set and the per-file report. Facts and conditions: reference fatbin-pruning.md.
//
// Every input file is hostile. A file is rewritten only when every fat binary the rewrite touches
// parses exactly, and the result is proven before it is returned (the rewritten file re-read by
// the compat/ readers lists exactly the kept entries with byte-identical payloads; every byte
// outside the rewritten ranges is unchanged); otherwise the bytes are left exactly as they were
// and the report says why.
#pragma once

#include "compat/hip_fatbin.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace gantry::tailor {

// A CUDA device to keep code for: its compute capability as an SM number (80 = 8.0, 90 = 9.0).
struct CudaTarget {
    unsigned sm = 0;
    bool operator==(const CudaTarget&) const = default;
};

// The GPUs the result must still run on. An empty vendor list means that vendor's code is not
// touched at all (an image tailored for NVIDIA keeps its HIP code, and the reverse).
struct KeepSet {
    std::vector<CudaTarget> cuda;
    std::vector<compat::TargetId> amd; // device target IDs ("gfx90a:sramecc+:xnack-")
    bool ptx =
        true; // CUDA: also keep the newest PTX of each container, the JIT path for newer GPUs
    std::string str() const; // "sm_80,sm_90,gfx90a (+newest PTX)"
};

// Parses a --keep-arch list: comma-separated items, each `sm_XY` / `compute_XY` / `X.Y` (a CUDA
// compute capability) or an AMD target ID (`gfx90a`, `gfx90a:xnack-`). Throws Error(usage) naming
// the item for anything else (and for an empty list).
KeepSet parse_keep_list(const std::string& list);

// What happened to one file.
struct FileReport {
    std::string path;
    enum class Outcome {
        changed,   // rewritten and proven
        unchanged, // nothing to drop (every entry is one a kept GPU could load, or none touchable)
        refused,   // something did not parse exactly or the proof failed: left byte-identical
    } outcome = Outcome::unchanged;
    std::string vendor;          // "cuda" or "hip"
    std::uint64_t file_size = 0; // unchanged by the rewrite
    std::uint64_t zeroed = 0;    // bytes set to zero (the freed space)
    // Device-code bytes (entry headers + payloads) per architecture, before and after:
    // "sm_90", "sm_90a", "compute_120" (PTX), "gfx90a:xnack-".
    std::map<std::string, std::uint64_t> arch_before, arch_after;
    std::uint64_t entries_before = 0, entries_after = 0;
    // Where the dropped entries / code objects were in the original file (offset, bytes), in file
    // order: what a compressor no longer sees (analyze's prediction compresses these ranges).
    std::vector<std::pair<std::uint64_t, std::uint64_t>> dropped;
    std::vector<std::string> left_alone; // fat binaries not touched, with why (one line each)
    std::string refused;                 // Outcome::refused: why
};

const char* to_string(FileReport::Outcome o); // "changed", "unchanged", "refused"

} // namespace gantry::tailor
