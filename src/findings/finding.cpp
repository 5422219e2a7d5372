#include "findings/finding.hpp"

#include "util/spelling.hpp"

#include <algorithm>

namespace gantry::findings {

namespace {

constexpr text::Spelling<Severity> kDoctorWords[] = {{Severity::pass, "pass"},
                                                     {Severity::info, "info"},
                                                     {Severity::warn, "warn"},
                                                     {Severity::fail, "fail"}};
constexpr text::Spelling<Severity> kLintWords[] = {
    {Severity::fail, "error"}, {Severity::warn, "warning"}, {Severity::info, "info"}};

} // namespace

const char* to_string(Severity s, Words words) {
    return words == Words::lint ? text::word_for(kLintWords, s, "?")
                                : text::word_for(kDoctorWords, s, "?");
}

std::optional<Severity> parse(std::string_view word, Words words) {
    return words == Words::lint ? text::value_for(kLintWords, word)
                                : text::value_for(kDoctorWords, word);
}

Severity by_size(std::uint64_t bytes) {
    return bytes >= 10'000'000 ? Severity::warn : Severity::info;
}

void keep_largest(std::vector<std::pair<std::string, std::uint64_t>>& paths, std::size_t n) {
    std::sort(paths.begin(), paths.end(), [](auto& a, auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    if (paths.size() > n) paths.resize(n);
}

Severity worst(const std::vector<Finding>& f) {
    Severity w = Severity::pass;
    for (auto& x : f) w = std::max(w, x.severity);
    return w;
}

bool reaches(const std::vector<Finding>& f, std::optional<Severity> threshold) {
    if (!threshold) return false;
    return std::any_of(f.begin(), f.end(),
                       [&](const Finding& x) { return x.severity >= *threshold; });
}

} // namespace gantry::findings
