// analyze/tailor_plan: what `--keep-arch` would do to an image, predicted from the same pass that
// analyses it: each ELF file with device code is planned by tailor/ (write=false, so the plan is
// exactly the rewrite slim would make), and the bytes it would drop are deflated as slim's new
// layer would deflate them (igzip level 3), so the prediction of the compressed saving is the
// size those bytes take in a layer today. Only files of the final view count.
#pragma once

#include "tailor/tailor.hpp"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::analyze {

struct LayerScan;
struct MergedView;

// One file's plan, kept in its layer's scan.
struct TailorFilePlan {
    std::uint32_t entry = 0; // index into LayerScan::entries
    std::vector<tailor::FileReport> reports;
    std::uint64_t deflated = 0; // the dropped ranges, deflated
};

TailorFilePlan plan_tailoring(std::string_view elf, const tailor::KeepSet& keep,
                              const std::string& path, std::uint32_t entry);

// Deflated size (igzip level 3, as slim writes layers) of the given ranges of DATA.
std::uint64_t deflated_size(std::string_view data,
                            const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges);

struct TailorPrediction {
    std::string keep;        // KeepSet::str()
    std::uint64_t files = 0; // final-view files with device code
    std::uint64_t changed = 0, unchanged = 0, refused = 0;
    std::uint64_t zeroed = 0;            // bytes that would become zeros
    std::uint64_t compressed_saving = 0; // predicted, in the layer
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> arch; // before, after
    std::vector<std::pair<std::string, std::string>> notes; // path, refused/left alone: why
};

TailorPrediction predict_tailoring(const tailor::KeepSet& keep,
                                   const std::vector<const LayerScan*>& layers,
                                   const MergedView& view);

nlohmann::json to_json(const TailorPrediction& p);
std::string render_text(const TailorPrediction& p);

} // namespace gantry::analyze
