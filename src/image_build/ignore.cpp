#include "image_build/ignore.hpp"

#include "util/fs.hpp"

#include <filesystem>
#include <fnmatch.h>

namespace gantry::image_build {
namespace {

std::string_view trim(std::string_view s) {
    auto b = s.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}

// Whether a pattern's segments match a prefix of a path's (a directory matched excludes what
// is under it). Each (pattern segment, path segment) pair is decided once: without that, a
// pattern of many "**" segments took time exponential in them (fuzz_dockerignore: a 230-byte
// .dockerignore line held `gantry build` for longer than 20 s).
class PrefixMatch {
  public:
    PrefixMatch(const std::vector<std::string>& pat, const std::vector<std::string>& path)
        : pat_(pat), path_(path), known_((pat.size() + 1) * (path.size() + 1), kUnknown) {}

    bool from(std::size_t pi, std::size_t si) {
        signed char& known = known_[pi * (path_.size() + 1) + si];
        if (known == kUnknown) known = decide(pi, si) ? 1 : 0;
        return known == 1;
    }

  private:
    static constexpr signed char kUnknown = -1;

    bool decide(std::size_t pi, std::size_t si) {
        if (pi == pat_.size()) return si > 0;
        if (pat_[pi] == "**") {
            for (std::size_t k = si; k <= path_.size(); ++k)
                if (from(pi + 1, k)) return true;
            return false;
        }
        if (si == path_.size()) return false;
        if (fnmatch(pat_[pi].c_str(), path_[si].c_str(), 0) != 0) return false;
        return from(pi + 1, si + 1);
    }

    const std::vector<std::string>& pat_;
    const std::vector<std::string>& path_;
    std::vector<signed char> known_; // kUnknown, 0 or 1 per (pi, si)
};

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
        if (PrefixMatch(p.segments, segs).from(0, 0)) out = !p.exception;
    return out;
}

Ignore Ignore::read(const std::string& dir) {
    auto p = std::filesystem::path(dir) / ".dockerignore";
    if (!std::filesystem::exists(p)) return Ignore();
    return parse(fs::read_file(p, 1 << 20));
}

} // namespace gantry::image_build
