// Untrusted JSON: the one parse every document from outside gantry goes through (image
// manifests, indexes and configs, docker-archive manifest.json, registry answers, auth files,
// files read from images). nlohmann::json parses without recursion, but everything that walks a
// parsed value afterwards (dump, copy, compare, CDI's tree) recurses once per level: a document
// nested a few hundred thousand levels deep overflows the stack (found by fuzzing `gantry`).
// So nesting is bounded while parsing, at kMaxDepth, as util/yaml bounds YAML.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
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

// JSON text holds UTF-8 only, and a Linux name, argument or environment value may be any bytes.
// dump() throws nlohmann's type_error for them; these two say where, or write them lossily.

// The first string or object key of VALUE (one gantry built, not too deep) that is not UTF-8:
// its location ("process.args[1]", "labels.k") and its text as a JSON string with U+FFFD for
// each byte that is not UTF-8; nullopt when there is none.
struct NotUtf8 {
    std::string where;
    std::string shown;
};
std::optional<NotUtf8> find_not_utf8(const nlohmann::json& value);

// VALUE.dump(INDENT) for a record gantry reads back, or Error(invalid): "<what>: its <where>
// <shown> holds bytes that are not UTF-8, which <record> (JSON) cannot hold", with HINT.
std::string dump_or_refuse(const nlohmann::json& value, int indent, const std::string& what,
                           const std::string& record, std::string hint);

// VALUE as JSON text, each byte that is not UTF-8 written as U+FFFD, as Go's encoding/json writes
// it: for output read by people and tools, never for a record gantry reads back.
std::string dump_lossy(const nlohmann::json& value, int indent = -1);

// TEXT with each byte that is not UTF-8 replaced by U+FFFD, as dump_lossy writes it: for other
// formats that must be UTF-8 (lint's checkstyle XML).
std::string lossy_utf8(const std::string& text);

// OBJECT[NAME] when OBJECT is an object whose NAME is a string, else "": a field of an untrusted
// document read without nlohmann's value(), which throws its own type_error for a non-string.
std::string string_field(const nlohmann::json& object, const char* name);

// The message for a document past the limit, for parsers with their own SAX handler (CDI).
std::string too_deep_message(std::size_t max_depth = kMaxDepth);

} // namespace gantry::safe_json
