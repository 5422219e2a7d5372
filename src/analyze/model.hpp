// analyze/model: what an image analysis produces, and the pure computations over scanned layers
// (dive's metrics, the merged view with deletions and overwrites). No I/O here: unit-testable.
#pragma once

#include "analyze/gpu_inventory.hpp"
#include "analyze/scan.hpp"
#include "findings/finding.hpp"

#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::analyze {

// dive's numbers, exactly as dive computes them (reference peers.md §4.1):
//   per layer, the leaf nodes of its file tree (implied parent directories are nodes too; an
//   opaque marker is not); key = path (a whiteout ".wh.x" keys "x"); size = tar header size,
//   a whiteout weighs the sum of the sizes under the path when it was a directory in the
//   stack of the layers below (dive's stack: every node of an upper layer, implied ones too,
//   replaces the payload of the path; whiteouts remove the subtree; opaque markers are ignored);
//   efficiency = sum(min size per path) / sum(cumulative size per path) (1 when 0/0);
//   wasted = sum of cumulative sizes of the paths seen at least twice;
//   user size = sum of layer sizes except the first; user wasted = wasted / user size (no guard:
//   NaN for 0/0, +inf for x/0, as in Go).
// One deviation: dive aborts the rest of a layer's walk when a whiteout names a path that does
// not exist below (an error it only logs); gantry counts that whiteout as 0 bytes and goes on.
struct Inefficiency {
    std::string path;
    std::uint64_t cumulative = 0;
    std::uint64_t count = 0;
};

struct DiveMetrics {
    double efficiency = 1.0;
    std::uint64_t wasted_bytes = 0;
    std::uint64_t size_bytes = 0;
    std::uint64_t user_size_bytes = 0;
    double user_wasted_percent = 0;           // a ratio (0.1 = 10%), may be NaN or +inf
    std::vector<Inefficiency> inefficiencies; // sorted by cumulative size, largest first
};

DiveMetrics dive_metrics(const std::vector<const LayerScan*>& layers);

// The image as a container sees it (OCI semantics: whiteouts and opaque directories hide lower
// layers; a non-directory replacing a directory hides its contents), plus what was lost on the way.
struct Ref {
    std::uint32_t layer = 0;
    std::uint32_t index = 0; // into LayerScan::entries
};
struct Lost {
    std::string path;
    std::uint64_t bytes = 0;
    std::uint32_t layer = 0; // where the bytes were written
    std::uint32_t by = 0;    // the layer that deleted or overwrote them
};
struct MergedView {
    std::map<std::string, Ref> final; // path -> its entry (no whiteouts, no opaque markers)
    std::vector<Lost> deleted;        // regular files a later layer deleted (or hid)
    std::vector<Lost> overwritten;    // regular files a later layer replaced at the same path
};

MergedView merge(const std::vector<const LayerScan*>& layers);

// analyze's findings are the shared model's (findings/finding.hpp) with their Subject: the files
// behind them, the bytes removing the cause saves, the slim class that removes it. Severity: info,
// or warn from 10 MB on (and for the rules that always warn); the report spells it "info" /
// "warn".
using findings::Finding;
using findings::Severity;

// A finding with its ID, severity and Subject::title (the rest filled in by its rule).
inline Finding finding(std::string id, Severity severity, std::string title) {
    Finding f;
    f.id = std::move(id);
    f.severity = severity;
    f.subject.title = std::move(title);
    return f;
}

struct LayerInfo {
    std::string diff_id, blob; // "sha256:…"
    std::uint64_t compressed = 0, uncompressed = 0, size = 0, files = 0, entries = 0;
    std::string created_by = "(missing)", comment;
};

struct Report {
    std::string image;           // what the user named
    std::string manifest_digest; // "sha256:…"
    std::string id;              // config digest
    std::vector<LayerInfo> layers;
    DiveMetrics dive;
    std::vector<Finding> findings; // largest savings first
    std::uint64_t final_bytes = 0; // regular file bytes of the merged view
    std::uint64_t final_files = 0;
    std::uint64_t final_allocated = 0;  // what those files allocate unpacked (zero runs are holes)
    std::uint64_t compressed_bytes = 0; // sum of layer blobs
    nlohmann::json treemap;             // {name, size, children:[...]}: layers -> directories
    std::optional<TailorPrediction> tailor; // with --keep-arch
    GpuInventory gpu;                       // GPU vendor components and their licences
};

struct FindOptions {
    std::uint64_t large_file = 100'000'000; // LARGE-FILE threshold
    std::uint64_t duplicate_min = 65'536;   // files smaller than this are not grouped
};

// Findings over the scanned layers and the image config (env, labels, history).
std::vector<Finding> find(const std::vector<const LayerScan*>& layers, const MergedView& view,
                          const nlohmann::json& config, const FindOptions& opt);

// The GPU vendor inventory of the scanned layers, and its findings (appended to `out`, which
// stays sorted as find() sorts): CUDA-NOT-IN-ATTACHMENT-A / CUDNN-NOT-LISTED (files in the final
// view that the applicable distributable list does not name), GPU-DRIVER-IN-IMAGE (driver
// libraries and GPU firmware), VENDOR-FILE-IN-LOWER-LAYER (deleted or overwritten by a later
// layer, still shipped below), NGC-CONTAINER-LICENSE (info).
GpuInventory gpu_inventory(const std::vector<const LayerScan*>& layers, const MergedView& view);
void gpu_findings(const GpuInventory& g, const std::vector<const LayerScan*>& layers,
                  const MergedView& view, std::vector<Finding>& out);

// Which slim class a final-view path belongs to ("" = none): used by findings and by slim.
// Classes: toolchain, headers, static, apt, pip, conda, pycache, site-extras, docs, model-cache.
std::string path_class(const std::string& path, Kind kind);

nlohmann::json treemap(const std::vector<const LayerScan*>& layers,
                       const std::vector<LayerInfo>& info);

} // namespace gantry::analyze
