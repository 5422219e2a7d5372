// Regular expressions for lint's rules, matched by RE2: linear in the input's length, with no
// recursion and no backtracking, so a hostile Dockerfile's megabyte-long word is matched like a
// short one (libstdc++'s std::regex recursed once per character and was capped at 512 bytes, past
// which nothing matched). Byte semantics (RE2's Latin-1 mode), as the patterns are ASCII and a
// Dockerfile's bytes need not be UTF-8.
#pragma once

#include <re2/re2.h>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::lint {

enum class RxCase { sensitive, insensitive };

// A compiled pattern. A pattern RE2 refuses is a programming error: std::logic_error.
class Rx {
  public:
    explicit Rx(std::string_view pattern, RxCase letter_case = RxCase::sensitive);
    const re2::RE2& re2() const { return re_; }

  private:
    re2::RE2 re_;
};

// The groups of a match: [0] is the whole match; a group that took no part is unmatched and
// empty, as is any index past the pattern's groups.
class RxMatch {
  public:
    struct Group {
        std::string text;
        bool matched = false;
        const std::string& str() const { return text; }
        operator const std::string&() const { return text; }
    };
    const Group& operator[](std::size_t i) const { return i < groups_.size() ? groups_[i] : none_; }
    const std::string& str(std::size_t i) const { return (*this)[i].text; }

  private:
    friend bool rx_find(std::string_view, RxMatch*, const Rx&, bool);
    std::vector<Group> groups_;
    Group none_;
};

// Whether RE matches anywhere in S (search) or the whole of S (match); M gets the groups.
bool rx_find(std::string_view s, RxMatch* m, const Rx& re, bool whole);
inline bool rx_search(std::string_view s, const Rx& re) {
    return rx_find(s, nullptr, re, false);
}
inline bool rx_search(std::string_view s, RxMatch& m, const Rx& re) {
    return rx_find(s, &m, re, false);
}
inline bool rx_match(std::string_view s, const Rx& re) {
    return rx_find(s, nullptr, re, true);
}
inline bool rx_match(std::string_view s, RxMatch& m, const Rx& re) {
    return rx_find(s, &m, re, true);
}
// S with every match of RE replaced by REWRITE, whose \1..\9 are the groups (RE2's syntax).
std::string rx_replace(std::string s, const Rx& re, std::string_view rewrite);

} // namespace gantry::lint
