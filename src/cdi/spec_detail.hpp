// cdi/spec_detail: the small text helpers the spec_*.cpp files share. ASCII character classes that
// do not depend on the locale (the CDI name rules are ASCII, as in the Go code), and the field
// paths every message starts with ("devices[2].containerEdits.mounts[0].hostPath").
#pragma once

#include <cstddef>
#include <string>

namespace gantry::cdi::detail {

inline bool is_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
inline bool is_alnum(char c) {
    return is_letter(c) || is_digit(c);
}

// "containerEdits" + "env" -> "containerEdits.env"; "" + "kind" -> "kind".
inline std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}
// "devices", 2 -> "devices[2]".
inline std::string index(const std::string& path, std::size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

} // namespace gantry::cdi::detail
