#include "slim/tailor_record.hpp"

#include "util/units.hpp"

#include <cstdio>

namespace gantry::slim {

using Outcome = tailor::FileReport::Outcome;

TailorTotals totals(const std::vector<tailor::FileReport>& reports) {
    TailorTotals t;
    std::string last;
    for (auto& r : reports) {
        if (r.path != last) ++t.files; // a file's CUDA and HIP reports follow each other
        last = r.path;
        t.changed += r.outcome == Outcome::changed;
        t.unchanged += r.outcome == Outcome::unchanged;
        t.refused += r.outcome == Outcome::refused;
        if (r.outcome == Outcome::changed) t.zeroed += r.zeroed;
        for (auto& [a, n] : r.arch_before) t.arch[a].first += n;
        for (auto& [a, n] : (r.outcome == Outcome::changed ? r.arch_after : r.arch_before))
            t.arch[a].second += n;
    }
    return t;
}

nlohmann::json to_json(const tailor::FileReport& r) {
    nlohmann::json arch = nlohmann::json::object();
    for (auto& [a, n] : r.arch_before) {
        auto it = r.arch_after.find(a);
        std::uint64_t after =
            r.outcome == Outcome::changed ? (it == r.arch_after.end() ? 0 : it->second) : n;
        arch[a] = {{"before", n}, {"after", after}};
    }
    nlohmann::json j{{"path", r.path},
                     {"vendor", r.vendor},
                     {"outcome", tailor::to_string(r.outcome)},
                     {"file_size", r.file_size},
                     {"zeroed_bytes", r.outcome == Outcome::changed ? r.zeroed : 0},
                     {"entries", {{"before", r.entries_before}, {"after", r.entries_after}}},
                     {"arch_bytes", arch},
                     {"left_alone", r.left_alone}};
    if (r.outcome == Outcome::refused) j["refused"] = r.refused;
    return j;
}

nlohmann::json tailor_json(const std::string& keep,
                           const std::vector<tailor::FileReport>& reports) {
    auto t = totals(reports);
    nlohmann::json arch = nlohmann::json::object(), files = nlohmann::json::array();
    for (auto& [a, n] : t.arch) arch[a] = {{"before", n.first}, {"after", n.second}};
    for (auto& r : reports) files.push_back(to_json(r));
    return {{"keep_arch", keep},
            {"totals",
             {{"files", t.files},
              {"changed", t.changed},
              {"unchanged", t.unchanged},
              {"refused", t.refused},
              {"zeroed_bytes", t.zeroed}}},
            {"arch_bytes", arch},
            {"files", files}};
}

std::string removed_label(const std::vector<tailor::FileReport>& reports) {
    nlohmann::json j = nlohmann::json::object();
    for (auto& [a, n] : totals(reports).arch)
        if (n.first > n.second) j[a] = n.first - n.second;
    return j.dump();
}

std::string render_tailor(const std::string& keep, const std::vector<tailor::FileReport>& reports,
                          std::size_t max_notes) {
    auto t = totals(reports);
    if (t.files == 0) return "tailored to " + keep + ": no file holds device code\n";
    std::string s = "tailored to " + keep + ": " + std::to_string(t.changed) + " rewrite(s) in " +
                    std::to_string(t.files) + " file(s) with device code";
    if (t.refused) s += ", " + std::to_string(t.refused) + " refused (left as they were)";
    s += "; " + units::human_size(t.zeroed) + " of device code zeroed\n";
    char line[200];
    std::snprintf(line, sizeof line, "  %-16s %12s %12s\n", "ARCH", "BEFORE", "AFTER");
    s += line;
    for (auto& [a, n] : t.arch) {
        std::snprintf(line, sizeof line, "  %-16s %12s %12s\n", a.c_str(),
                      units::human_size(n.first).c_str(), units::human_size(n.second).c_str());
        s += line;
    }
    std::size_t notes = 0, total_notes = 0;
    for (auto& r : reports) {
        std::vector<std::string> lines;
        if (r.outcome == Outcome::refused) lines.push_back("refused: " + r.refused);
        for (auto& w : r.left_alone) lines.push_back("left alone: " + w);
        for (auto& l : lines) {
            ++total_notes;
            if (notes < max_notes) {
                s += "  " + r.path + ": " + l + "\n";
                ++notes;
            }
        }
    }
    if (total_notes > notes)
        s += "  ... " + std::to_string(total_notes - notes) + " more (see --json or " +
             std::string("/") + kTailorReportPath + " in the image)\n";
    return s;
}

} // namespace gantry::slim
