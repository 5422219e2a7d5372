// dive-compatible CI rules: thresholds from flags or a .dive-ci YAML file, evaluated on the
// metrics exactly as dive does (reference peers.md §4.1).
#include "analyze/analyze.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"
#include "util/units.hpp"
#include "util/yaml.hpp"

#include <cmath>
#include <cstdio>

namespace gantry::analyze {

namespace {

bool disabled(std::string_view value) {
    std::string v = text::lower(value);
    return v.empty() || v == "disabled" || v == "off" || v == "false";
}

} // namespace

std::optional<double> parse_ratio(const std::string& key, const std::string& value) {
    std::string v(text::trim(value, " \t"));
    if (disabled(v)) return std::nullopt;
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0' || std::isnan(d))
        throw Error(Errc::usage, key + ": \"" + value + "\" is not a number",
                    "give a ratio between 0 and 1 (e.g. 0.9), or \"disabled\"");
    if (d < 0 || d > 1)
        throw Error(Errc::usage, key + ": " + v + " is outside [0, 1]",
                    "ratios are fractions: 0.9 means 90%");
    return d;
}

std::optional<std::uint64_t> parse_bytes(const std::string& key, const std::string& value) {
    if (disabled(text::trim(value, " \t"))) return std::nullopt;
    return units::parse_dive_size(value, key);
}

void load_ci_config(const std::string& path, CiRules& rules) {
    std::string text = fs::read_file(path, 1 << 20);
    yaml::Node doc;
    try {
        doc = yaml::parse(text);
    } catch (const yaml::SyntaxError& e) {
        throw Error(Errc::invalid,
                    path + " is not valid YAML: line " + std::to_string(e.line) + ", column " +
                        std::to_string(e.column) + ": " + e.message,
                    "see docs/analyze.md for the format (dive's .dive-ci)");
    } catch (const Error& e) {
        throw Error(e.code(), path + ": " + e.message(), e.hint());
    }
    if (doc.is_null()) return;
    const yaml::Node* r = doc.is_map() ? doc.find("rules") : nullptr;
    if (!r || !r->is_map())
        throw Error(Errc::invalid, path + " has no `rules:` mapping",
                    "write e.g.\nrules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20MB\n"
                    "  highestUserWastedPercent: 0.1");
    for (const auto& [key, val] : r->entries) {
        const std::string& k = key.value;
        if (!val.is_scalar())
            throw Error(Errc::invalid, path + ": rule " + k + " must be a scalar");
        const std::string& v = val.value;
        std::string where = path + ": " + k;
        if (k == "lowestEfficiency" || k == "lowest-efficiency")
            rules.lowest_efficiency = parse_ratio(where, v);
        else if (k == "highestWastedBytes" || k == "highest-wasted-bytes")
            rules.highest_wasted_bytes = parse_bytes(where, v);
        else if (k == "highestUserWastedPercent" || k == "highest-user-wasted-percent")
            rules.highest_user_wasted_percent = parse_ratio(where, v);
        else
            throw Error(Errc::invalid, path + ": unknown rule \"" + k + "\"",
                        "known rules: lowestEfficiency, highestWastedBytes, "
                        "highestUserWastedPercent (or their kebab-case forms)");
    }
}

namespace {

// One rule's line: SKIP when it is disabled, else FAIL (and the result fails) or PASS, with the
// value and the threshold printed by the given printf formats (dive's wording).
template <class T, class V>
void rule_line(CiResult& r, const char* name, const std::optional<T>& threshold, V value,
               bool (*fails)(V, T), const char* fail_fmt, const char* pass_fmt) {
    if (!threshold) {
        r.lines.push_back(std::string("SKIP: ") + name + ": rule disabled");
        return;
    }
    char buf[512];
    bool failed = fails(value, *threshold);
    std::snprintf(buf, sizeof buf, failed ? fail_fmt : pass_fmt, value, *threshold);
    if (failed) r.pass = false;
    r.lines.push_back(buf);
}

} // namespace

CiResult evaluate_ci(const DiveMetrics& m, const CiRules& rules) {
    CiResult r;
    rule_line<double, double>(
        r, "lowestEfficiency", rules.lowest_efficiency, m.efficiency,
        [](double v, double t) { return t > v; },
        "FAIL: lowestEfficiency: image efficiency is too low (efficiency=%.4f < threshold=%.4f)",
        "PASS: lowestEfficiency (efficiency=%.4f >= %.4f)");
    std::optional<unsigned long long> wasted;
    if (rules.highest_wasted_bytes) wasted = *rules.highest_wasted_bytes;
    rule_line<unsigned long long, unsigned long long>(
        r, "highestWastedBytes", wasted, static_cast<unsigned long long>(m.wasted_bytes),
        [](unsigned long long v, unsigned long long t) { return v > t; },
        "FAIL: highestWastedBytes: too many bytes wasted (wasted-bytes=%llu > threshold=%llu)",
        "PASS: highestWastedBytes (wasted-bytes=%llu <= %llu)");
    // as in Go: NaN > t is false (passes), +Inf > t fails
    rule_line<double, double>(
        r, "highestUserWastedPercent", rules.highest_user_wasted_percent, m.user_wasted_percent,
        [](double v, double t) { return v > t; },
        "FAIL: highestUserWastedPercent: too many bytes wasted, relative to the user bytes added "
        "(%%-user-wasted-bytes=%.4f > threshold=%.4f)",
        "PASS: highestUserWastedPercent (%%-user-wasted-bytes=%.4f <= %.4f)");
    return r;
}

} // namespace gantry::analyze
