// docker_verbs: what gantry answers to docker's command lines that are not its own: docker's
// management groups (`image ls`, `container rm`) become gantry's commands, and a verb or flag
// gantry does not have is refused by name ("unknown command `attach`", "unknown flag `-P`"),
// with the gantry command that does the job when there is one, or why there is none
// (docs/docker-cli.md lists them all).
#pragma once

#include "dispatch/command_line.hpp"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::dispatch {

// ARGS (the line without the program name) with docker's group form replaced by gantry's
// command: `image ls -q` -> `images -q`, `container ls -a` -> `ps -a`, `image rm` -> `rmi`.
// Global flags before the group stay where they are. nullopt when ARGS names no group (or a
// group verb gantry has no command for: unknown_command then explains).
std::optional<std::vector<std::string>> expand_docker_group(std::span<char* const> args);
// Whether ARGS name a verb of a docker group that is also a gantry command (`builder prune`,
// `container prune`) that the command does not have (`container attach`): unknown_command
// explains it, as for a group gantry does not have.
bool is_foreign_verb_of_own_group(std::span<char* const> args);

// The refusal of WORD, a command gantry does not have (WORD may be "image attach" for a group's
// verb): "unknown command `WORD`", and a hint naming the gantry command for the job, or why
// there is none, or `gantry --help`; a usage error's exit status.
Ending unknown_command(std::string_view word);

// The group verb ARGS name when they name a docker group ("image attach"), else the first word.
std::string command_as_written(std::span<char* const> args);

// The hint for FLAG, which COMMAND (gantry's name) does not have: the equivalent or why there
// is none; empty when gantry knows nothing particular about it.
std::string unknown_flag_hint(std::string_view command, std::string_view flag);

// CLI11's refusal WHAT ("The following argument was not expected: -P") in gantry's words
// ("unknown flag `-P`", "unexpected argument `x`"); WHAT itself when it is another refusal.
std::string usage_message(std::string_view what);

// The first unknown flag CLI11's refusal WHAT names ("-P"), empty when it names none.
std::string first_unknown_flag(std::string_view what);

} // namespace gantry::dispatch
