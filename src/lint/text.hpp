// Internal to lint/: text helpers of the Dockerfile parser and its errors ("line N: ...").
#pragma once

#include "util/error.hpp"

#include <cctype>
#include <string>
#include <string_view>

namespace gantry::lint {

inline Error parse_error(int line, const std::string& msg, std::string hint = {}) {
    if (hint.empty())
        hint = "fix the Dockerfile syntax (see "
               "https://docs.docker.com/reference/dockerfile/)";
    std::string m = msg.size() > 200 ? msg.substr(0, 200) + "..." : msg;
    return Error(Errc::invalid, "line " + std::to_string(line) + ": " + m, std::move(hint));
}

inline bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

inline std::string_view ltrim(std::string_view s) {
    while (!s.empty() && (is_space(s.front()) || s.front() == '\n')) s.remove_prefix(1);
    return s;
}
inline std::string_view rtrim(std::string_view s) {
    while (!s.empty() && (is_space(s.back()) || s.back() == '\n')) s.remove_suffix(1);
    return s;
}
inline std::string_view trim(std::string_view s) {
    return rtrim(ltrim(s));
}

inline std::string upper(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return r;
}
inline std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

} // namespace gantry::lint
