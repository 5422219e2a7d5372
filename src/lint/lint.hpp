// gantry lint: GPU-aware Dockerfile rules (GL001...) with severities, line numbers and fixes.
// Inline pragmas: "# gantry-lint ignore=GL003,GL005" in the comments just above an instruction
// silences those rules for it; "# gantry-lint global ignore=GL004" anywhere for the whole file.
#pragma once

#include "dockerfile/dockerfile.hpp"
#include "lint/model.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::lint {

enum class Level { error = 0, warning = 1, info = 2 };
const char* to_string(Level l);
// "error", "warning", "info" (throws Error(usage) otherwise).
Level parse_level(std::string_view s);

struct Finding {
    std::string code; // "GL003"
    Level level = Level::warning;
    int line = 0;
    int column = 1;
    std::string message;         // names the thing
    std::string fix;             // what to do instead
    std::string stage;           // stage name or index
    std::size_t instruction = 0; // index in Dockerfile::instructions (for pragmas)
};

struct RuleInfo {
    const char* code;
    Level level;
    const char* title;
};
const std::vector<RuleInfo>& rules();

struct Options {
    BuildOptions build;
    std::set<std::string> ignore;                 // rule codes
    std::map<std::string, Level> severity;        // per-rule overrides
    std::optional<std::filesystem::path> context; // build context, for sizes of COPY sources
    std::uint64_t large_bytes = 100ull << 20;     // a COPY source this big is "large"
};

// Runs every rule, applies pragmas, --ignore and severity overrides; sorted by line.
std::vector<Finding> lint(const Dockerfile& df, const Options& opt);

// True when some finding is at least as severe as threshold (nullopt: never).
bool fails(const std::vector<Finding>& findings, std::optional<Level> threshold);

} // namespace gantry::lint
