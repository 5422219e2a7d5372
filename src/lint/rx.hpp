// Regular expressions on bounded input. libstdc++'s std::regex recurses once per matched
// character, so a hostile Dockerfile with a megabyte-long word would overflow the stack: strings
// longer than kRegexMax never match.
#pragma once

#include <regex>
#include <string>

namespace gantry::lint {

inline constexpr std::size_t kRegexMax = 512;

inline bool rx_search(const std::string& s, const std::regex& re) {
    return s.size() <= kRegexMax && std::regex_search(s, re);
}
inline bool rx_search(const std::string& s, std::smatch& m, const std::regex& re) {
    return s.size() <= kRegexMax && std::regex_search(s, m, re);
}
inline bool rx_match(const std::string& s, const std::regex& re) {
    return s.size() <= kRegexMax && std::regex_match(s, re);
}
inline bool rx_match(const std::string& s, std::smatch& m, const std::regex& re) {
    return s.size() <= kRegexMax && std::regex_match(s, m, re);
}

} // namespace gantry::lint
