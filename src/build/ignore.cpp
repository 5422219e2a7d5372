#include "build/ignore.hpp"

#include <fnmatch.h>

namespace gantry::build {
namespace {

std::string_view trim(std::string_view s) {
    auto b = s.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}

// True when pat matches a prefix of path (a directory matched excludes what is under it).
bool match(const std::vector<std::string>& pat, std::size_t pi,
           const std::vector<std::string>& path, std::size_t si) {
    if (pi == pat.size()) return si > 0;
    if (pat[pi] == "**") {
        for (std::size_t k = si; k <= path.size(); ++k)
            if (match(pat, pi + 1, path, k)) return true;
        return false;
    }
    if (si == path.size()) return false;
    if (fnmatch(pat[pi].c_str(), path[si].c_str(), 0) != 0) return false;
    return match(pat, pi + 1, path, si + 1);
}

} // namespace

std::vector<std::string> clean_segments(std::string_view p) {
    std::vector<std::string> out;
    while (!p.empty()) {
        auto slash = p.find('/');
        std::string_view seg = p.substr(0, slash);
        p = slash == std::string_view::npos ? std::string_view{} : p.substr(slash + 1);
        if (seg.empty() || seg == ".") continue;
        if (seg == "..") {
            if (!out.empty()) out.pop_back();
            continue;
        }
        out.emplace_back(seg);
    }
    return out;
}

Ignore Ignore::parse(std::string_view text) {
    Ignore ig;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        line = trim(line);
        if (line.empty() || line[0] == '#') continue;
        IgnorePattern p;
        if (line[0] == '!') {
            p.exception = true;
            line = trim(line.substr(1));
        }
        p.segments = clean_segments(line);
        if (p.segments.empty()) continue;
        // Consecutive "**" mean the same as one; collapsing them bounds the matcher's work.
        std::vector<std::string> segs;
        for (auto& s : p.segments)
            if (!(s == "**" && !segs.empty() && segs.back() == "**")) segs.push_back(std::move(s));
        p.segments = std::move(segs);
        ig.patterns_.push_back(std::move(p));
    }
    return ig;
}

bool Ignore::excluded(std::string_view path) const {
    auto segs = clean_segments(path);
    if (segs.empty()) return false;
    bool out = false;
    for (const auto& p : patterns_)
        if (match(p.segments, 0, segs, 0)) out = !p.exception;
    return out;
}

} // namespace gantry::build
