// device_code: what every GPU vendor's device-code format gives the image-side tools, so that
// tailor, analyze, slim, doctor --fatbin and build --gpu-arch iterate over the registered formats
// (gpu_vendors::device_code_formats()) and name none. A format (CUDA fat binaries, HIP offload
// bundles) lives in its vendor's folder under gpu_vendors/ and implements Format: its --keep-arch
// grammar, its reader (the bytes per target analyze counts, the listing doctor --fatbin shows),
// its rewriter (tailor: what is kept, proven before it is returned) and the build variables its
// toolchains read. This header holds the interface and the types they share: the kept set and
// the per-file report.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gantry::device_code {

struct KeepSet;

// A switch of one format's --keep-arch, a flag of every command that takes --keep-arch (slim,
// tailor, analyze): what it changes is the format's business (CUDA's --no-ptx drops the newest
// PTX the rewrite keeps by default). KeepSet::options holds the ones given.
struct KeepOption {
    const char* flag; // "--no-ptx"
    const char* help; // "With --keep-arch: drop PTX newer than the kept GPUs too (...)"
};

// One device-code format's --keep-arch grammar.
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
    // What KeepSet::str() adds after the list when this format has targets (CUDA: whether the
    // newest PTX is kept); nullptr: nothing.
    const char* (*suffix)(const KeepSet& keep);
    // This format's keep options (CUDA: --no-ptx); none by default.
    std::vector<KeepOption> options = {};
};

// The GPUs a result must still run on, per device-code format: `by_format["cuda"]` ("sm_90"),
// `by_format["hip"]` ("gfx90a:xnack-"), each target in its grammar's canonical spelling. A
// format with no targets is not touched at all (an image tailored for NVIDIA keeps its HIP code,
// and the reverse).
struct KeepSet {
    std::map<std::string, std::vector<std::string>> by_format;
    // The keep options given (KeepOption::flag: "--no-ptx"), each one of a format with targets
    // here (tailor::parse_keep_list checks that).
    std::set<std::string> options;
    // The grammars of the formats, in registry order (tailor::parse_keep_list fills it): the
    // order str() lists the targets in. Empty: by_format's order, without suffixes.
    std::vector<const KeepGrammar*> grammars;
    // The kept targets of one format; empty: the format is left alone.
    const std::vector<std::string>& targets(const std::string& format) const;
    bool has(const std::string& option) const { return options.count(option) != 0; }
    std::string str() const; // "sm_80,sm_90,gfx90a (+newest PTX)"
};

// What happened to one file.
struct FileReport {
    std::string path;
    enum class Outcome {
        changed,   // rewritten and proven
        unchanged, // nothing to drop (every entry is one a kept GPU could load, or none touchable)
        refused,   // something did not parse exactly or the proof failed: left byte-identical
    } outcome = Outcome::unchanged;
    std::string vendor;          // the format: "cuda" or "hip"
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

using TableRows = std::vector<std::vector<std::string>>; // the first row is the header

// What `gantry doctor --fatbin FILE` shows of one format's device code in a file.
struct Listing {
    bool found = false;                // the file holds this format's device code
    bool damaged = false;              // something of it could not be read (exit 4)
    std::vector<std::string> problems; // what could not be read, one line each (warnings)
    std::string headline;              // "FILE: 2 fatbin containers, 5 entries"
    std::vector<TableRows> tables;     // printed after the headline, a blank line between
};

class Format {
  public:
    virtual ~Format() = default;
    // The KeepSet key and FileReport::vendor: "cuda", "hip".
    virtual std::string_view name() const = 0;
    virtual const KeepGrammar& keep_grammar() const = 0;
    // Device-code bytes per target in one ELF file held in memory (analyze's inventory, as
    // stored: compressed bytes where the format compresses); empty when the file has none of
    // this format's code or it cannot be read (a damaged file is the doctor's business).
    virtual std::map<std::string, std::uint64_t> target_bytes(std::string_view elf,
                                                              const std::string& path) const = 0;
    // Rewrites the format's device code in ELF (in place, the size kept) to what KEEP's targets
    // run; with write=false nothing changes and the report says what a write would do. Never
    // throws for malformed contents (the file is Outcome::refused, bytes unchanged).
    virtual FileReport tailor(std::string& elf, const KeepSet& keep, const std::string& path,
                              bool write) const = 0;
    // doctor --fatbin: the listing of the file at PATH, and its part of the --json document
    // (merged into one object with the other formats': keep the keys apart).
    virtual Listing list(const std::string& path) const = 0;
    virtual void list_json(const std::string& path, nlohmann::json& document) const = 0;
    // build --gpu-arch: the variables the format's toolchains read for TARGETS (this format's,
    // canonical; never empty).
    virtual std::map<std::string, std::string>
    build_env(const std::vector<std::string>& targets) const = 0;
};

} // namespace gantry::device_code
