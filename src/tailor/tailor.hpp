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
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gantry::tailor {

// The GPUs the result must still run on, per device-code format: `by_format["cuda"]` (CUDA fat
// binaries, "sm_90") and `by_format["hip"]` (HIP offload bundles, AMD target IDs
// "gfx90a:xnack-"), each target in its format grammar's canonical spelling (KeepGrammar). A format
// with no targets is not touched at all (an image tailored for NVIDIA keeps its HIP code, and the
// reverse).
struct KeepSet {
    std::map<std::string, std::vector<std::string>> by_format;
    bool ptx =
        true; // CUDA: also keep the newest PTX of each container, the JIT path for newer GPUs
    // The kept targets of one format; empty: the format is left alone.
    const std::vector<std::string>& targets(const std::string& format) const;
    std::string str() const; // "sm_80,sm_90,gfx90a (+newest PTX)"
};

// One device-code format's --keep-arch grammar. Each format's rewriter defines its own
// (cuda.hpp, hip.hpp); keep_grammars() (keep.cpp) lists them, one line per format, and
// parse_keep_list, KeepSet::str() and the refusals are built from that list.
struct KeepGrammar {
    const char* format;   // the KeepSet key: "cuda", "hip"
    const char* noun;     // for a refusal: "a CUDA architecture"
    const char* spelling; // for its hint: "CUDA GPUs as sm_80 / 8.0"
    const char* example;  // "sm_90"
    // The canonical target an item names (the item as given, blanks trimmed), or nullopt when
    // the item is none of this format's.
    std::optional<std::string> (*parse)(const std::string& item);
    // The order targets are kept in; nullptr: the order given.
    bool (*before)(const std::string& a, const std::string& b);
};
const std::vector<KeepGrammar>& keep_grammars();

// Parses a --keep-arch list: comma-separated items, each one of a KeepGrammar's (`sm_XY` /
// `compute_XY` / `X.Y` for CUDA, an AMD target ID `gfx90a`, `gfx90a:xnack-`). Throws Error(usage)
// naming the item for anything else (and for an empty list).
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
