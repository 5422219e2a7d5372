#include "analyze/tailor_plan.hpp"

#include "analyze/model.hpp"
#include "layer/igzip.hpp"
#include "tailor/file.hpp"
#include "util/error.hpp"
#include "util/units.hpp"

#include <algorithm>
#include <cstdio>

namespace gantry::analyze {

std::uint64_t deflated_size(std::string_view data,
                            const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges) {
    if (ranges.empty()) return 0;
    const auto& z = layer::igzip::api();
    std::vector<std::uint8_t> level_buf(ISAL_DEF_LVL3_DEFAULT);
    isal_zstream zs{};
    z.deflate_init(&zs);
    zs.level = 3;
    zs.level_buf = level_buf.data();
    zs.level_buf_size = static_cast<std::uint32_t>(level_buf.size());
    std::uint64_t total = 0;
    std::vector<std::uint8_t> out_buf(1 << 16);
    // Feeds AVAIL bytes at IN (end: the last of the stream) and counts what comes out.
    auto feed = [&](const char* in, std::uint32_t avail, bool end) {
        zs.next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(in));
        zs.avail_in = avail;
        zs.end_of_stream = end ? 1 : 0;
        zs.flush = NO_FLUSH;
        do {
            zs.next_out = out_buf.data();
            zs.avail_out = static_cast<std::uint32_t>(out_buf.size());
            if (z.deflate(&zs) != COMP_OK)
                throw Error(Errc::internal, "igzip failed while predicting a tailored size");
            total += out_buf.size() - zs.avail_out;
        } while (zs.avail_in > 0 || (end && zs.internal_state.state != ZSTATE_END));
    };
    // One stream over the ranges in order, as they would follow each other in a layer (the
    // bytes between them stay and compress as before).
    for (auto [off, len] : ranges) {
        if (off > data.size() || len > data.size() - off) continue;
        for (std::uint64_t done = 0; done < len;) {
            auto chunk = static_cast<std::uint32_t>(std::min<std::uint64_t>(len - done, 1u << 30));
            feed(data.data() + off + done, chunk, false);
            done += chunk;
        }
    }
    feed(nullptr, 0, true);
    return total;
}

TailorFilePlan plan_tailoring(std::string_view elf, const tailor::KeepSet& keep,
                              const std::string& path, std::uint32_t entry) {
    TailorFilePlan p;
    p.entry = entry;
    p.reports = tailor::plan_file(elf, keep, path);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> dropped;
    for (auto& r : p.reports)
        if (r.outcome == tailor::FileReport::Outcome::changed)
            dropped.insert(dropped.end(), r.dropped.begin(), r.dropped.end());
    std::sort(dropped.begin(), dropped.end());
    p.deflated = deflated_size(elf, dropped);
    return p;
}

TailorPrediction predict_tailoring(const tailor::KeepSet& keep,
                                   const std::vector<const LayerScan*>& layers,
                                   const MergedView& view) {
    TailorPrediction out;
    out.keep = keep.str();
    std::vector<std::map<std::uint32_t, const TailorFilePlan*>> by_entry(layers.size());
    for (std::size_t l = 0; l < layers.size(); ++l)
        for (auto& p : layers[l]->tailor) by_entry[l][p.entry] = &p;
    for (auto& [path, ref] : view.final) {
        auto it = by_entry[ref.layer].find(ref.index);
        if (it == by_entry[ref.layer].end()) continue;
        const TailorFilePlan& p = *it->second;
        if (p.reports.empty()) continue;
        ++out.files;
        bool changed = false, refused = false;
        for (auto& r : p.reports) {
            using O = tailor::FileReport::Outcome;
            changed |= r.outcome == O::changed;
            refused |= r.outcome == O::refused;
            out.zeroed += r.outcome == O::changed ? r.zeroed : 0;
            for (auto& [a, n] : r.arch_before) out.arch[a].first += n;
            for (auto& [a, n] : (r.outcome == O::changed ? r.arch_after : r.arch_before))
                out.arch[a].second += n;
            if (r.outcome == O::refused)
                out.notes.emplace_back("/" + path, "refused: " + r.refused);
            for (auto& why : r.left_alone)
                if (out.notes.size() < 200) out.notes.emplace_back("/" + path, why);
        }
        out.compressed_saving += p.deflated;
        if (refused)
            ++out.refused;
        else if (changed)
            ++out.changed;
        else
            ++out.unchanged;
    }
    return out;
}

nlohmann::json to_json(const TailorPrediction& p) {
    nlohmann::json arch = nlohmann::json::object();
    for (auto& [a, n] : p.arch) arch[a] = {{"before", n.first}, {"after", n.second}};
    nlohmann::json notes = nlohmann::json::array();
    for (auto& [path, why] : p.notes) notes.push_back({{"path", path}, {"note", why}});
    return {{"keep_arch", p.keep},
            {"files",
             {{"with_device_code", p.files},
              {"changed", p.changed},
              {"unchanged", p.unchanged},
              {"refused", p.refused}}},
            {"zeroed_bytes", p.zeroed},
            {"predicted_compressed_saving", p.compressed_saving},
            {"arch_bytes", arch},
            {"notes", notes}};
}

std::string render_text(const TailorPrediction& p) {
    std::string s = "Tailoring to " + p.keep + ": " + std::to_string(p.changed) + " of " +
                    std::to_string(p.files) + " file(s) with device code change";
    if (p.refused) s += ", " + std::to_string(p.refused) + " refused (left as they are)";
    s += "; " + units::human_size(p.zeroed) +
         " of device code become zeros, the layer shrinks by ~" +
         units::human_size(p.compressed_saving) + " compressed\n";
    for (auto& [a, n] : p.arch) {
        char line[160];
        std::snprintf(line, sizeof line, "  %-14s %12s -> %12s\n", a.c_str(),
                      units::human_size(n.first).c_str(), units::human_size(n.second).c_str());
        s += line;
    }
    std::size_t shown = 0;
    for (auto& [path, why] : p.notes) {
        if (++shown > 10) {
            s += "  ... " + std::to_string(p.notes.size() - 10) + " more note(s) in --json\n";
            break;
        }
        s += "  " + path + ": " + why + "\n";
    }
    return s;
}

} // namespace gantry::analyze
