// analyze: the report of an image in the store, from one streaming pass over its compressed
// layer blobs (several layers at once), and its renderings (table, JSON, HTML) and dive-style
// CI rules.
#pragma once

#include "analyze/model.hpp"
#include "store/images.hpp"

#include <optional>
#include <string>

namespace gantry::analyze {

struct AnalyzeOptions {
    unsigned jobs = 0;   // layers scanned at once; 0 = CPUs
    bool verify = false; // re-check every blob digest and diffID (the store did at import)
    FindOptions find;
    std::optional<tailor::KeepSet> keep_arch; // also predict what --keep-arch would do
    // ELF files inspected (debug sections, fat binaries, SONAMEs): push's licence check turns it
    // off, it needs file names and metadata only
    bool inspect_elf = true;
};

// The scans stay available for callers that need more than the report (slim).
struct Analysis {
    Report report;
    std::vector<LayerScan> scans;
    MergedView view;
    std::vector<const LayerScan*> ptrs() const;
};

Analysis analyze_image(const store::Store& store, const store::Image& image,
                       const std::string& name, const AnalyzeOptions& opt);

// Renderings.
std::string render_text(const Report& r, std::size_t max_paths = 3);
nlohmann::json to_json(const Report& r);
std::string render_html(const Report& r); // self-contained: inline CSS and JS, no network

// dive's CI rules. A missing value means "disabled".
struct CiRules {
    std::optional<double> lowest_efficiency = 0.9;
    std::optional<std::uint64_t> highest_wasted_bytes;
    std::optional<double> highest_user_wasted_percent = 0.1;
};
struct CiResult {
    bool pass = true;
    std::vector<std::string> lines; // "PASS: ..." / "FAIL: ..." / "SKIP: ..."
};

// Parses a value as dive does: "", "disabled", "off", "false" disable a rule; ratios must lie in
// [0, 1]; byte sizes in humanize form ("20MB", "1.5 GiB", "1000"). Error(usage) naming the key.
std::optional<double> parse_ratio(const std::string& key, const std::string& value);
std::optional<std::uint64_t> parse_bytes(const std::string& key, const std::string& value);
// Reads a .dive-ci YAML file (rules: lowestEfficiency / lowest-efficiency, ...) over `rules`.
void load_ci_config(const std::string& path, CiRules& rules);
CiResult evaluate_ci(const DiveMetrics& m, const CiRules& rules);

} // namespace gantry::analyze
