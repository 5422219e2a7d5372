// Text on string_views, the one home of gantry's general string helpers: splitting into fields
// and lines, trimming, ASCII case, joining lists, and strict numbers. No stream (an istringstream
// builds an ios_base and copies a locale, at every use on the run path) and no locale: case and
// white space are ASCII's, which is what <cctype> gives in the "C" and "C.UTF-8" locales gantry
// runs in (a unit test checks every byte), without a locale lookup per character.
// Prefixes and suffixes need no helper: std::string(_view)::starts_with / ends_with.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::text {

// The fields of S between SEP characters: "a::b" -> a, "", b; "a:" -> a, ""; "" -> none.
std::vector<std::string_view> split(std::string_view s, char sep);

// The lines of S without their '\n': "a\nb" and "a\nb\n" -> a, b; "\n" -> one empty; "" -> none.
std::vector<std::string_view> lines(std::string_view s);

// White space as std::isspace has it in the "C" locale.
inline constexpr std::string_view whitespace = " \t\n\v\f\r";

// S without the characters of CHARS (white space unless given) at its start, its end, or both:
// a view into S, so S must outlive it. trim(" a b\n") -> "a b"; trim("'x' ", " '") -> "x".
std::string_view trim_left(std::string_view s, std::string_view chars = whitespace);
std::string_view trim_right(std::string_view s, std::string_view chars = whitespace);
std::string_view trim(std::string_view s, std::string_view chars = whitespace);

// S with A-Z lowered (or a-z raised); every other byte, UTF-8 included, as it is.
std::string lower(std::string_view s);
// Percent-encodes every byte outside [A-Za-z0-9._~-] (a URL query value; a file name that
// cannot contain '/').
std::string url_escape(std::string_view s);
std::string upper(std::string_view s);

// A and B are equal but for the case of ASCII letters: "NVIDIA" and "nvidia".
bool iequals(std::string_view a, std::string_view b);

// NEEDLE occurs in S (every S contains "").
bool contains(std::string_view s, std::string_view needle);

// ITEMS with SEP between each two: {"a", "b"} and ", " -> "a, b"; {"", "a"} -> ", a"; {} -> "".
std::string join(std::span<const std::string> items, std::string_view sep);

// A and B joined by one "/" (relative paths in an image); either empty gives the other.
std::string join_path(const std::string& a, const std::string& b);

// V in lower-case hexadecimal with "0x" before it: 255 -> "0xff".
std::string hex(std::uint64_t v);

// SECONDS since the epoch as RFC 3339 in UTC, to the second ("2026-11-25T22:38:38Z").
std::string rfc3339(std::int64_t seconds);

// ITEMS as a person lists them: "a", "a and b", "a, b and c" (no Oxford comma); {} -> "".
std::string join_english(std::span<const std::string> items);

// S is one or more of 0-9 and nothing else: "007" yes; "", "-1", "1.5" or " 1" no.
bool all_digits(std::string_view s);

// A whole unsigned decimal number that fits in 32 bits; nullopt for "", "-5", "+5", " 7",
// "10x" or 4294967296.
std::optional<std::uint32_t> to_u32(std::string_view s);

// ---- UTF-8 ----

// The offset of S's first byte that does not begin a valid UTF-8 sequence (RFC 3629: no
// overlong forms, no surrogates, nothing past U+10FFFF), as glibc's iconv decodes it to UTF-32;
// nullopt when all of S is UTF-8. JSON text holds UTF-8 only, and a Linux name or argument is any
// bytes.
std::optional<std::size_t> first_non_utf8(std::string_view s);

// ---- words (cgroup's interface files and mountinfo) ----

// The words of S between runs of white space, as `stream >> word` reads them: " a  b\n" -> a, b;
// "" and " \n" -> none.
std::vector<std::string_view> words(std::string_view s);

} // namespace gantry::text
