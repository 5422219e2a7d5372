// slim/tailor_record: what a tailoring (slim --keep-arch) did, as JSON, as text, and as what the
// new image records of it: labels (the kept set and the bytes removed per architecture) and the
// whole report as a file in the image (/.gantry/tailor.json), so the image says what it lost.
#pragma once

#include "tailor/tailor.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::slim {

inline constexpr const char* kTailorReportPath = ".gantry/tailor.json";
inline constexpr const char* kLabelKeepArch = "io.gantry.tailor.keep-arch";
inline constexpr const char* kLabelRemoved = "io.gantry.tailor.removed";
inline constexpr const char* kLabelReport = "io.gantry.tailor.report";

struct TailorTotals {
    std::uint64_t files = 0, changed = 0, unchanged = 0, refused = 0, zeroed = 0;
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> arch; // before, after
};
TailorTotals totals(const std::vector<tailor::FileReport>& reports);

nlohmann::json to_json(const tailor::FileReport& r);
// {"keep_arch", "totals", "arch_bytes", "files": [...]}
nlohmann::json tailor_json(const std::string& keep, const std::vector<tailor::FileReport>& reports);
// The labels' values: KEEP and {"sm_80": bytes removed, ...} (compact JSON).
std::string removed_label(const std::vector<tailor::FileReport>& reports);
// A table per architecture and the files refused or left alone (at most MAX_NOTES lines).
std::string render_tailor(const std::string& keep, const std::vector<tailor::FileReport>& reports,
                          std::size_t max_notes = 10);

} // namespace gantry::slim
