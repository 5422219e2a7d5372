// Internal to dockerfile/: the Dockerfile parser's errors ("line N: ...") and its blanks (general
// text helpers are util/text.hpp).
#pragma once

#include "util/error.hpp"

#include <string>

namespace gantry::dockerfile {

inline Error parse_error(int line, const std::string& msg, std::string hint = {}) {
    if (hint.empty())
        hint = "fix the Dockerfile syntax (see "
               "https://docs.docker.com/reference/dockerfile/)";
    std::string m = msg.size() > 200 ? msg.substr(0, 200) + "..." : msg;
    return Error(Errc::invalid, "line " + std::to_string(line) + ": " + m, std::move(hint));
}

// White space within a line: a newline ends the line (or, escaped, continues it).
inline bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

} // namespace gantry::dockerfile
