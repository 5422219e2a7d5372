// Dockerfile words: splitting an instruction's arguments into words the way BuildKit's shell
// lexer does (quotes kept until expansion), and expanding one word against build arguments and
// environment (${VAR}, $VAR, ${VAR:-default}, ${VAR-default}, ${VAR:+alt}, ${VAR+alt},
// ${VAR:?msg}, quote removal, the escape character).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::dockerfile {

using Env = std::map<std::string, std::string>;

// BuildKit's automatic platform arguments (TARGETPLATFORM, BUILDARCH, ...) for linux/amd64, the
// one platform gantry builds for.
const Env& platform_args();

// Splits s on unquoted whitespace; each word keeps its quotes and escapes (raw form).
// Throws Error(invalid) for an unterminated quote.
std::vector<std::string> split_words(std::string_view s, char escape);

struct Expanded {
    std::string value;
    bool resolved = true; // false when a variable had no value (or an unsupported form was used)
    std::vector<std::string> unresolved; // names of the variables without a value
};

// The most bytes one expanded word may have: the kernel's limit for one string handed to execve
// (MAX_ARG_STRLEN, 32 pages, the terminating NUL included), so no longer value could reach a RUN
// step's environment or arguments anyway. BuildKit's lexer has no bound: nested references
// (ENV B=$A$A, ENV C=$B$B, ...) grow a value exponentially there; here they stop at this size.
inline constexpr std::size_t kMaxExpandedWord = 128 * 1024 - 1;
// How deeply ${VAR:-${OTHER:-...}} may nest.
inline constexpr int kMaxExpansionDepth = 16;

// Removes quotes and escapes and substitutes variables from env. A variable that env lacks
// expands to "" (as BuildKit does) and marks the result unresolved.
// Throws Error(invalid) when the result would exceed kMaxExpandedWord bytes or ${} nests deeper
// than kMaxExpansionDepth.
Expanded expand_word(std::string_view raw, const Env& env, char escape);

// True when s is a valid variable name ([A-Za-z_][A-Za-z0-9_]*).
bool is_var_name(std::string_view s);

} // namespace gantry::dockerfile
