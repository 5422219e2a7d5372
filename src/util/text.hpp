// Splitting text into fields and lines, and strict numbers, on string_views: no stream (an
// istringstream builds an ios_base and copies a locale, at every use on the run path); lists of
// words, split and joined.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::text {

// The fields of S between SEP characters: "a::b" -> a, "", b; "a:" -> a, ""; "" -> none.
std::vector<std::string_view> split(std::string_view s, char sep);

// The lines of S without their '\n': "a\nb" and "a\nb\n" -> a, b; "\n" -> one empty; "" -> none.
std::vector<std::string_view> lines(std::string_view s);

// A whole unsigned decimal number that fits in 32 bits; nullopt for "", "-5", "+5", " 7",
// "10x" or 4294967296.
std::optional<std::uint32_t> to_u32(std::string_view s);

// ---- lists of words (cgroup's messages and interface files) ----

// The words of S between runs of whitespace (space, \t, \n, \v, \f, \r), as `stream >> word`
// reads them: " a  b\n" -> a, b.
std::vector<std::string_view> words(std::string_view s);

// ITEMS with SEP between them: join({"a", "b"}, " ") = "a b"; none: "".
std::string join(const std::vector<std::string>& items, std::string_view sep);

// ITEMS as an English list: "a", "a and b", "a, b and c"; none: "".
std::string join_english(const std::vector<std::string>& items);

// Whether ITEMS holds S.
bool contains(const std::vector<std::string>& items, std::string_view s);

} // namespace gantry::text
