// Untrusted JSON: the one parse every document from outside gantry goes through (image
// manifests, indexes and configs, docker-archive manifest.json, registry answers, auth files,
// files read from images). nlohmann::json parses without recursion, but everything that walks a
// parsed value afterwards (dump, copy, compare, CDI's tree) recurses once per level: a document
// nested a few hundred thousand levels deep overflows the stack (found by fuzzing `gantry`).
// So nesting is bounded while parsing, at kMaxDepth, as util/yaml bounds YAML.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace gantry::safe_json {

// Far beyond any real document (image configs nest 4 levels), far below what a recursive walk
// of nlohmann::json can take on a thread's stack. Go's encoding/json stops at 10000.
inline constexpr std::size_t kMaxDepth = 512;

// Parses `text` (one JSON value, nothing after it). Throws Error(invalid) naming `what`:
// "<what> is not valid JSON: <detail>" or "<what> nests deeper than 512 levels".
nlohmann::json parse(std::string_view text, const std::string& what,
                     std::size_t max_depth = kMaxDepth);

// The same, without throwing: a discarded value (is_discarded()) when parse would throw.
nlohmann::json parse_or_discarded(std::string_view text, std::size_t max_depth = kMaxDepth);

// The message for a document past the limit, for parsers with their own SAX handler (CDI).
std::string too_deep_message(std::size_t max_depth = kMaxDepth);

} // namespace gantry::safe_json
