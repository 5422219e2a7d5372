// Splitting text into fields and lines, and strict numbers, on string_views: no stream (an
// istringstream builds an ios_base and copies a locale, at every use on the run path).
#pragma once

#include <cstdint>
#include <optional>
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

} // namespace gantry::text
