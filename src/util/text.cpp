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

} // namespace gantry::text
