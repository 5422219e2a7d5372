// The executor's reading of the instructions that do more than change the config (and what of
// them it refuses up front: check_supported): RUN's
// command (exec form, shell form wrapped in SHELL, heredocs as BuildKit runs them), HEALTHCHECK's
// config (docker's Healthcheck object, durations in nanoseconds) and COPY/ADD's words (sources,
// destination, the flags gantry build knows). Errors are Error(invalid) naming the line.
#pragma once

#include "dockerfile/dockerfile.hpp"
#include "image_build/stage_state.hpp"
#include "util/units.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::image_build {

// RUN's argv: the JSON array as written; a shell form as SHELL + [text]; a heredoc alone
// ("RUN <<EOF") as SHELL + [its body]; a command with heredocs as SHELL + [the command line and
// the heredoc bodies with their delimiters], so the shell feeds them to the command.
std::vector<std::string> run_argv(const StageState& st, const dockerfile::Instruction& ins);

// HEALTHCHECK NONE | [--interval= --timeout= --start-period= --start-interval= --retries=] CMD
nlohmann::json healthcheck(const StageState& st, const dockerfile::Instruction& ins);

// A docker duration ("30s", "1m30s", "500ms", "1h") in nanoseconds (util/units.hpp).
using units::parse_duration;

struct CopyWords {
    std::vector<std::string> sources; // expanded
    std::string dest;                 // expanded, as written
};
// The sources and destination of COPY/ADD (JSON form or words), each expanded; heredoc sources
// are not supported and refused.
CopyWords copy_words(const StageState& st, const dockerfile::Instruction& ins);

// What a step uses that gantry build does not do (RUN --security=insecure, --mount=type=ssh, a
// flag it does not know), refused as Error(unsupported) naming the line, before any step runs.
void check_supported(const dockerfile::Instruction& ins);

// Refuses a flag of INS that gantry build does not know (file and line in the message).
void check_flags(const dockerfile::Instruction& ins, std::initializer_list<std::string_view> known);

} // namespace gantry::image_build
