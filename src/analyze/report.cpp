// Renderings of a report: the aligned table, JSON, and the treemap data the HTML page draws.
#include "analyze/analyze.hpp"
#include "util/columns.hpp"
#include "util/printable.hpp"
#include "util/units.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

namespace gantry::analyze {

namespace {

std::string pct(double r) {
    if (std::isnan(r)) return "n/a";
    if (std::isinf(r)) return "inf";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f%%", r * 100);
    return buf;
}

std::string one_line(std::string s, std::size_t max) {
    s = text::printable(s); // the one rule: a newline or escape sequence as Go's %q writes it
    for (std::string p : {"/bin/sh -c #(nop) ", "/bin/sh -c "})
        if (s.starts_with(p)) s = s.substr(p.size());
    if (s.size() > max) s = s.substr(0, max - 3) + "...";
    return s;
}

struct TNode {
    std::uint64_t size = 0;
    std::uint64_t files = 0;
    std::map<std::string, std::unique_ptr<TNode>> kids;
};

nlohmann::json to_tm(const std::string& name, const TNode& n, std::uint64_t min, int depth) {
    nlohmann::json j{{"name", name}, {"size", n.size}, {"files", n.files}};
    if (n.kids.empty() || depth <= 0) return j;
    std::vector<std::pair<std::string, const TNode*>> ks;
    for (auto& [k, v] : n.kids) ks.emplace_back(k, v.get());
    std::sort(ks.begin(), ks.end(), [](auto& a, auto& b) {
        return a.second->size != b.second->size ? a.second->size > b.second->size
                                                : a.first < b.first;
    });
    nlohmann::json kids = nlohmann::json::array();
    std::uint64_t rest = 0, rest_n = 0, rest_files = 0;
    for (auto& [k, v] : ks) {
        if (v->size >= min && kids.size() < 40)
            kids.push_back(to_tm(k, *v, min, depth - 1));
        else
            rest += v->size, ++rest_n, rest_files += v->files;
    }
    if (rest_n)
        kids.push_back({{"name", "(" + std::to_string(rest_n) + " more)"},
                        {"size", rest},
                        {"files", rest_files}});
    j["children"] = kids;
    return j;
}

} // namespace

nlohmann::json treemap(const std::vector<const LayerScan*>& layers,
                       const std::vector<LayerInfo>& info) {
    std::uint64_t total = 0;
    std::vector<TNode> roots(layers.size());
    for (std::size_t i = 0; i < layers.size(); ++i) {
        for (auto& e : layers[i]->entries) {
            if (e.kind != Kind::file || e.size == 0) continue;
            TNode* n = &roots[i];
            n->size += e.size, ++n->files;
            std::size_t pos = 0;
            while (pos < e.path.size()) {
                std::size_t s = e.path.find('/', pos);
                if (s == std::string::npos) s = e.path.size();
                auto& k = n->kids[e.path.substr(pos, s - pos)];
                if (!k) k = std::make_unique<TNode>();
                n = k.get();
                n->size += e.size, ++n->files;
                pos = s + 1;
            }
        }
        total += roots[i].size;
    }
    std::uint64_t min = std::max<std::uint64_t>(1, total / 1000);
    nlohmann::json kids = nlohmann::json::array();
    for (std::size_t i = 0; i < layers.size(); ++i) {
        std::string nm = "layer " + std::to_string(i + 1);
        if (i < info.size()) nm += ": " + one_line(info[i].created_by, 60);
        auto j = to_tm(nm, roots[i], min, 8);
        j["layer"] = i + 1;
        kids.push_back(j);
    }
    return {{"name", "image"}, {"size", total}, {"children", kids}};
}

nlohmann::json to_json(const Report& r) {
    using nlohmann::json;
    auto num = [](double d) -> json {
        if (std::isnan(d) || std::isinf(d)) return nullptr;
        return d;
    };
    json layers = json::array();
    for (std::size_t i = 0; i < r.layers.size(); ++i) {
        auto& l = r.layers[i];
        layers.push_back({{"index", i + 1},
                          {"diff_id", l.diff_id},
                          {"digest", l.blob},
                          {"compressed_size", l.compressed},
                          {"uncompressed_size", l.uncompressed},
                          {"size", l.size},
                          {"files", l.files},
                          {"entries", l.entries},
                          {"created_by", l.created_by},
                          {"comment", l.comment}});
    }
    json ineff = json::array();
    for (auto& x : r.dive.inefficiencies)
        ineff.push_back(
            {{"path", "/" + x.path}, {"count", x.count}, {"cumulative_size", x.cumulative}});
    json findings = json::array();
    for (auto& f : r.findings) {
        json paths = json::array();
        for (auto& [p, b] : f.subject.paths) paths.push_back({{"path", p}, {"bytes", b}});
        findings.push_back({{"id", f.id},
                            {"severity", findings::to_string(f.severity)},
                            {"title", f.subject.title},
                            {"bytes", f.subject.bytes},
                            {"count", f.subject.count},
                            {"message", f.message},
                            {"fix", f.fix},
                            {"slim", f.subject.slim_class},
                            {"paths", paths},
                            {"details", f.subject.details}});
    }
    std::string wasted_user = std::isnan(r.dive.user_wasted_percent)   ? "NaN"
                              : std::isinf(r.dive.user_wasted_percent) ? "+Inf"
                                                                       : "";
    json dive{{"efficiency", r.dive.efficiency},
              {"wasted_bytes", r.dive.wasted_bytes},
              {"size_bytes", r.dive.size_bytes},
              {"user_size_bytes", r.dive.user_size_bytes},
              {"user_wasted_percent", num(r.dive.user_wasted_percent)},
              {"inefficiencies", ineff}};
    if (!wasted_user.empty()) dive["user_wasted_percent_special"] = wasted_user;
    json out{{"image", r.image},
             {"id", r.id},
             {"manifest_digest", r.manifest_digest},
             {"compressed_size", r.compressed_bytes},
             {"final_size", r.final_bytes},
             {"final_files", r.final_files},
             {"final_apparent_size", r.final_bytes},
             {"final_allocated_size", r.final_allocated},
             {"layers", layers},
             {"dive", dive},
             {"findings", findings},
             {"gpu_components", to_json(r.gpu)},
             {"treemap", r.treemap}};
    if (r.tailor) out["tailor"] = to_json(*r.tailor);
    return out;
}

std::string render_text(const Report& r, std::size_t max_paths) {
    std::string o;
    // an image's paths and messages quote what its builder chose: each through the one rule
    // (util/printable.hpp), as text::columns prints its cells
    o += "Image " + text::printable(r.image) + " (id " + r.id.substr(7, 12) + ")\n\n";
    std::vector<std::vector<std::string>> rows{
        {"LAYER", "COMPRESSED", "UNCOMPRESSED", "FILES", "CREATED BY"}};
    for (std::size_t i = 0; i < r.layers.size(); ++i) {
        auto& l = r.layers[i];
        rows.push_back({std::to_string(i + 1), units::human_size(l.compressed),
                        units::human_size(l.size), std::to_string(l.files),
                        one_line(l.created_by, 70)});
    }
    o += text::columns(rows);
    char buf[256];
    std::snprintf(buf, sizeof buf, "\nEfficiency score: %.4f %%\n", r.dive.efficiency * 100);
    o += buf;
    o += "Image size: " + units::human_size(r.dive.size_bytes) + " (" +
         units::human_size(r.compressed_bytes) + " compressed; " +
         units::human_size(r.final_bytes) + " in " + std::to_string(r.final_files) +
         " files as a container sees it, " + units::human_size(r.final_allocated) +
         " allocated unpacked)\n";
    o += "Potential wasted space (dive): " + units::human_size(r.dive.wasted_bytes) + "\n";
    o += "User wasted percent: " + pct(r.dive.user_wasted_percent) + "\n";
    if (!r.dive.inefficiencies.empty()) {
        o += "\nInefficient paths (largest first):\n";
        std::vector<std::vector<std::string>> ir{{"COUNT", "TOTAL SPACE", "PATH"}};
        for (std::size_t i = 0; i < r.dive.inefficiencies.size() && i < 10; ++i) {
            auto& x = r.dive.inefficiencies[i];
            if (x.cumulative == 0) break;
            ir.push_back({std::to_string(x.count), units::human_size(x.cumulative), "/" + x.path});
        }
        if (ir.size() > 1) o += text::columns(ir);
    }
    if (r.tailor) o += "\n" + render_text(*r.tailor);
    o += render_text(r.gpu);
    if (r.findings.empty()) {
        o += "\nNo findings.\n";
        return o;
    }
    o += "\nFindings (largest savings first):\n";
    std::vector<std::vector<std::string>> fr{{"ID", "SEVERITY", "BYTES", "FILES", "SUMMARY"}};
    for (auto& f : r.findings)
        fr.push_back({f.id, findings::to_string(f.severity), units::human_size(f.subject.bytes),
                      std::to_string(f.subject.count), f.message});
    o += text::columns(fr);
    o += "\n";
    for (auto& f : r.findings) {
        o += f.id + ": " + text::printable(f.message) + "\n";
        for (std::size_t i = 0; i < f.subject.paths.size() && i < max_paths; ++i)
            o += "    " + units::human_size(f.subject.paths[i].second) + "  /" +
                 text::printable(f.subject.paths[i].first) + "\n";
        o += "  fix: " + text::printable(f.fix) + "\n";
    }
    return o;
}

} // namespace gantry::analyze
