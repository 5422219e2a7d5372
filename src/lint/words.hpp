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

namespace gantry::lint {

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

// Removes quotes and escapes and substitutes variables from env. A variable that env lacks
// expands to "" (as BuildKit does) and marks the result unresolved.
Expanded expand_word(std::string_view raw, const Env& env, char escape);

// True when s is a valid variable name ([A-Za-z_][A-Za-z0-9_]*).
bool is_var_name(std::string_view s);

} // namespace gantry::lint
