// Renderings of the GPU vendor inventory (analyze/gpu_inventory.hpp): JSON and text.
#include "analyze/gpu_inventory.hpp"
#include "util/columns.hpp"
#include "util/text.hpp"
#include "util/units.hpp"

#include <algorithm>

namespace gantry::analyze {

nlohmann::json to_json(const GpuInventory& g) {
    using nlohmann::json;
    json comps = json::array();
    for (auto& c : g.components) {
        json paths = json::array();
        for (auto& [p, b] : c.paths) paths.push_back({{"path", p}, {"bytes", b}});
        json j{{"layer", c.layer + 1},
               {"component", c.component},
               {"name", c.name},
               {"vendor", c.vendor},
               {"role", c.role},
               {"files", c.files},
               {"bytes", c.bytes},
               {"final_files", c.final_files},
               {"versions", c.versions},
               {"recognised_by", c.recognised_by},
               {"licence", c.licence},
               {"licence_name", c.licence_name},
               {"licence_from", c.licence_from},
               {"open_source", c.open_source},
               {"source", c.source},
               {"source_document", c.source_document},
               {"paths", paths}};
        if (!c.list.empty()) {
            j["list"] = c.list;
            j["listed"] = c.listed == 1;
        }
        comps.push_back(std::move(j));
    }
    json pkgs = json::array();
    for (auto& p : g.packages)
        pkgs.push_back({{"layer", p.layer + 1},
                        {"manager", p.manager},
                        {"name", p.name},
                        {"version", p.version},
                        {"component", p.component},
                        {"licence", p.licence},
                        {"licence_from", p.licence_from}});
    json lics = json::array();
    for (auto& f : g.licence_files)
        lics.push_back({{"layer", f.layer + 1},
                        {"path", f.path},
                        {"licence", f.licence},
                        {"name", f.name},
                        {"list", f.list},
                        {"open_source", f.open_source},
                        {"cut", f.cut},
                        {"in_final", f.in_final}});
    json lists = json::object();
    for (auto& [lic, v] : g.lists) lists[lic] = {{"list", v.first}, {"from", v.second}};
    return {{"components", comps},
            {"packages", pkgs},
            {"licence_files", lics},
            {"lists", lists},
            {"texts_skipped", g.texts_skipped}};
}

std::string render_text(const GpuInventory& g) {
    if (g.empty()) return {};
    std::string o = "\nGPU vendor components (per layer; facts from the image and gantry's "
                    "component table, not a legal verdict):\n";
    std::vector<std::vector<std::string>> rows{
        {"LAYER", "COMPONENT", "VERSION", "FILES", "SIZE", "LICENCE (FROM)", "LISTED"}};
    for (auto& c : g.components)
        rows.push_back(
            {std::to_string(c.layer + 1), c.name,
             c.versions.empty() ? "-" : text::join(c.versions, ","),
             std::to_string(c.files) +
                 (c.final_files != c.files ? " (" + std::to_string(c.final_files) + " final)" : ""),
             units::human_size(c.bytes),
             (c.licence_name.empty() ? "not in the table" : c.licence_name) + " (" +
                 (c.licence_from.empty() ? "-" : c.licence_from) + ")",
             c.list.empty() ? "-" : (c.listed == 1 ? "yes" : "no")});
    o += text::columns(rows);
    for (auto& [lic, v] : g.lists)
        for (auto& c : g.components)
            if (c.licence == lic) {
                o += "LISTED: whether " + v.first + " names the files (its text: " + v.second +
                     ")\n";
                break;
            }
    if (!g.licence_files.empty()) {
        o += "\nLicence texts in the image:\n";
        for (auto& f : g.licence_files)
            o += "  layer " + std::to_string(f.layer + 1) + "  " + f.path + ": " +
                 (f.name.empty() ? "(not recognised)" : f.name) +
                 (f.list.empty() ? "" : " [" + f.list + "]") +
                 (f.in_final ? "" : " (hidden later)") +
                 (f.cut ? " (cut: only its start was read)" : "") + "\n";
    }
    if (g.texts_skipped)
        o += "(" + std::to_string(g.texts_skipped) +
             " metadata or licence files were not read: over the per-layer limit)\n";
    return o;
}

} // namespace gantry::analyze
