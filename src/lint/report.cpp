#include "lint/report.hpp"

#include "util/error.hpp"
#include "util/json.hpp"
#include "util/printable.hpp"

#include <nlohmann/json.hpp>

namespace gantry::lint {

namespace {

using json = nlohmann::ordered_json;

std::string xml_escape(const std::string& text) {
    std::string r;
    for (char c : safe_json::lossy_utf8(text)) { // the document says it is UTF-8
        switch (c) {
        case '&':
            r += "&amp;";
            break;
        case '<':
            r += "&lt;";
            break;
        case '>':
            r += "&gt;";
            break;
        case '"':
            r += "&quot;";
            break;
        case '\'':
            r += "&apos;";
            break;
        default:
            // control characters are not allowed in XML 1.0
            if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n')
                r += ' ';
            else
                r += c;
        }
    }
    return r;
}

const char* color_of(Severity l) {
    switch (l) {
    case Severity::fail:
        return "\033[1;31m";
    case Severity::warn:
        return "\033[1;33m";
    case Severity::info:
        return "\033[1;36m";
    case Severity::pass:
        break;
    }
    return "";
}

std::string tty(const std::vector<FileResult>& results, bool color) {
    std::string out;
    for (auto& r : results)
        for (auto& f : r.findings) {
            std::string level = level_word(f.severity);
            if (color) level = color_of(f.severity) + level + "\033[0m";
            // a Dockerfile's words quoted in a message: each line one line (util/printable.hpp)
            out += text::printable(r.file) + ":" + std::to_string(f.at.line) + " " + f.id + " " +
                   level + ": " + text::printable(f.message) + "\n";
            if (!f.fix.empty()) out += "  fix: " + text::printable(f.fix) + "\n";
        }
    return out;
}

json as_json(const std::vector<FileResult>& results) {
    json a = json::array();
    for (auto& r : results)
        for (auto& f : r.findings)
            a.push_back({{"file", r.file},
                         {"line", f.at.line},
                         {"column", f.at.column},
                         {"code", f.id},
                         {"level", level_word(f.severity)},
                         {"message", f.message},
                         {"fix", f.fix},
                         {"stage", f.at.stage}});
    return a;
}

std::string gnu(const std::vector<FileResult>& results) {
    std::string out;
    for (auto& r : results)
        for (auto& f : r.findings)
            out += text::printable(r.file) + ":" + std::to_string(f.at.line) + ":" +
                   std::to_string(f.at.column) + ": " + level_word(f.severity) + ": " + f.id + " " +
                   text::printable(f.message) + "\n";
    return out;
}

std::string checkstyle(const std::vector<FileResult>& results) {
    std::string out = "<?xml version='1.0' encoding='UTF-8'?>\n<checkstyle version='4.3'>\n";
    for (auto& r : results) {
        out += "  <file name='" + xml_escape(r.file) + "'>\n";
        for (auto& f : r.findings)
            out += "    <error line='" + std::to_string(f.at.line) + "' column='" +
                   std::to_string(f.at.column) + "' severity='" + level_word(f.severity) +
                   "' message='" + xml_escape(f.message + " (fix: " + f.fix + ")") + "' source='" +
                   f.id + "'/>\n";
        out += "  </file>\n";
    }
    return out + "</checkstyle>\n";
}

std::string sarif(const std::vector<FileResult>& results, const std::vector<RuleInfo>& rules) {
    auto level = [](Severity l) { return l == Severity::info ? "note" : level_word(l); };
    json rule_list = json::array();
    for (auto& r : rules)
        rule_list.push_back({{"id", r.code},
                             {"shortDescription", {{"text", r.title}}},
                             {"defaultConfiguration", {{"level", level(r.severity)}}}});
    json res = json::array();
    for (auto& r : results)
        for (auto& f : r.findings)
            res.push_back({{"ruleId", f.id},
                           {"level", level(f.severity)},
                           {"message", {{"text", f.message + " Fix: " + f.fix}}},
                           {"locations", json::array({{{"physicalLocation",
                                                        {{"artifactLocation", {{"uri", r.file}}},
                                                         {"region",
                                                          {{"startLine", f.at.line},
                                                           {"startColumn", f.at.column}}}}}}})}});
    json doc = {
        {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
        {"version", "2.1.0"},
        {"runs",
         json::array({{{"tool", {{"driver", {{"name", "gantry lint"}, {"rules", rule_list}}}}},
                       {"results", res}}})}};
    return safe_json::dump_lossy(doc, 2) + "\n";
}

} // namespace

Format parse_format(const std::string& s) {
    if (s == "tty" || s == "text") return Format::tty;
    if (s == "json") return Format::json;
    if (s == "gnu") return Format::gnu;
    if (s == "checkstyle") return Format::checkstyle;
    if (s == "sarif") return Format::sarif;
    throw Error(Errc::usage, "unknown --format \"" + s + "\"",
                "use tty, json, gnu, checkstyle or sarif");
}

std::string render(const std::vector<FileResult>& results, Format f, bool color,
                   const std::vector<RuleInfo>& rules) {
    switch (f) {
    case Format::tty:
        return tty(results, color);
    case Format::json:
        return safe_json::dump_lossy(as_json(results), 2) + "\n";
    case Format::gnu:
        return gnu(results);
    case Format::checkstyle:
        return checkstyle(results);
    case Format::sarif:
        return sarif(results, rules);
    }
    return {};
}

} // namespace gantry::lint
