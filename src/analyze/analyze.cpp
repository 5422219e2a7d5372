#include "analyze/analyze.hpp"

#include "store/layer_tar.hpp"
#include "util/error.hpp"
#include "util/parallel.hpp"

#include <fcntl.h>

namespace gantry::analyze {

std::vector<const LayerScan*> Analysis::ptrs() const {
    std::vector<const LayerScan*> v;
    for (auto& s : scans) v.push_back(&s);
    return v;
}

Analysis analyze_image(const store::Store& store, const store::Image& img, const std::string& name,
                       const AnalyzeOptions& opt) {
    Analysis a;
    const auto& layers = img.manifest.layers;
    if (layers.size() != img.config.diff_ids.size())
        throw Error(Errc::invalid,
                    "image " + name + " lists " + std::to_string(layers.size()) +
                        " layers but its config " + std::to_string(img.config.diff_ids.size()) +
                        " diff_ids",
                    "the image is inconsistent; load or pull it again");
    a.scans.resize(layers.size());
    parallel_for(layers.size(), opt.jobs, [&](std::size_t i) {
        const auto& d = layers[i].digest;
        std::string what = "layer " + std::to_string(i + 1) + "/" + std::to_string(layers.size()) +
                           " (" + d.str().substr(0, 19) + "…)";
        // the blob, or the tar rebuilt from the tree (store/layer_tar.hpp), checked as it is read
        auto content = store::open_layer(store, d, img.config.diff_ids[i], what);
        layer::Reader& rd = *content.reader;
        ScanOptions so;
        so.what = what;
        so.verify = opt.verify;
        so.inspect_elf = opt.inspect_elf;
        if (opt.keep_arch) so.keep = &*opt.keep_arch;
        a.scans[i] = scan_layer(rd, so);
        if (opt.verify && !content.rebuilt && a.scans[i].blob_hex != d.hex())
            throw Error(Errc::invalid, what + ": blob hashes to sha256:" + a.scans[i].blob_hex,
                        "the store is damaged; run `gantry system fsck --repair`");
        if (opt.verify && a.scans[i].diff_hex != img.config.diff_ids[i].hex())
            throw Error(Errc::invalid,
                        what + ": content does not match diff_id " + img.config.diff_ids[i].str(),
                        "the store is damaged; run `gantry system fsck --repair`");
    });

    auto ptrs = a.ptrs();
    Report& r = a.report;
    r.image = name;
    r.manifest_digest = img.manifest_digest.str();
    r.id = img.id().str();
    // History: dive's walk, skipping empty_layer entries.
    const auto& hist = img.config.history;
    std::size_t h = 0;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        LayerInfo li;
        li.diff_id = img.config.diff_ids[i].str();
        li.blob = layers[i].digest.str();
        li.compressed = a.scans[i].blob_size;
        li.uncompressed = a.scans[i].tar_size;
        li.size = a.scans[i].entry_bytes;
        li.files = a.scans[i].files;
        li.entries = a.scans[i].entries.size();
        while (h < hist.size() && hist[h].empty_layer) ++h;
        if (h < hist.size()) {
            li.created_by = hist[h].created_by.empty() ? "(none)" : hist[h].created_by;
            li.comment = hist[h].comment;
            ++h;
        }
        r.compressed_bytes += li.compressed;
        r.layers.push_back(std::move(li));
    }
    r.dive = dive_metrics(ptrs);
    a.view = merge(ptrs);
    for (auto& [p, ref] : a.view.final) {
        const Entry& e = a.scans[ref.layer].entries[ref.index];
        if (e.kind == Kind::file)
            r.final_bytes += e.size, r.final_allocated += e.allocated, ++r.final_files;
    }
    r.findings = find(ptrs, a.view, img.config.raw, opt.find);
    r.gpu = gpu_inventory(ptrs, a.view);
    gpu_findings(r.gpu, ptrs, a.view, r.findings);
    if (opt.keep_arch) r.tailor = predict_tailoring(*opt.keep_arch, ptrs, a.view);
    r.treemap = treemap(ptrs, r.layers);
    return a;
}

} // namespace gantry::analyze
