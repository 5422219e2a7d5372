#include "util/text.hpp"

#include <algorithm>
#include <charconv>

namespace gantry::text {

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    if (s.empty()) return out;
    for (std::size_t p = 0;;) {
        std::size_t q = s.find(sep, p);
        out.push_back(s.substr(p, q == s.npos ? s.npos : q - p));
        if (q == s.npos) return out;
        p = q + 1;
    }
}

std::vector<std::string_view> lines(std::string_view s) {
    std::vector<std::string_view> out;
    for (std::size_t p = 0; p < s.size();) {
        std::size_t q = std::min(s.find('\n', p), s.size());
        out.push_back(s.substr(p, q - p));
        p = q + 1;
    }
    return out;
}

std::optional<std::uint32_t> to_u32(std::string_view s) {
    std::uint32_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// ---- lists of words ----

std::vector<std::string_view> words(std::string_view s) {
    constexpr std::string_view kSpace = " \t\n\v\f\r";
    std::vector<std::string_view> out;
    for (std::size_t p = s.find_first_not_of(kSpace); p != s.npos;
         p = s.find_first_not_of(kSpace, p)) {
        std::size_t q = std::min(s.find_first_of(kSpace, p), s.size());
        out.push_back(s.substr(p, q - p));
        p = q;
    }
    return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += sep;
        out += items[i];
    }
    return out;
}

std::string join_english(const std::vector<std::string>& items) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += (i + 1 == items.size()) ? " and " : ", ";
        out += items[i];
    }
    return out;
}

bool contains(const std::vector<std::string>& items, std::string_view s) {
    return std::find(items.begin(), items.end(), s) != items.end();
}

} // namespace gantry::text
