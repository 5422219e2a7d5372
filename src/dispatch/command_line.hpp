// dispatch: what main() decides before and after a command runs, as functions a test calls: the
// OCI-runtime name (gantry-oci, runc), which command a line names (aliases, global flags
// skipped), and how a failure ends the process (the lines on stderr, the exit status). The
// command table itself (names and the CLI's register functions) stays in src/cli/main.cpp.
#pragma once

#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gantry {
class Error;
}

namespace gantry::dispatch {

// Whether ARGV0 (a path) is a link that calls gantry as an OCI runtime: gantry-oci or runc.
bool called_as_oci_runtime(std::string_view argv0);

// ARGV (argc words and the null after them) as `gantry oci ARGS...` (still null-terminated):
// what a runtime-named call (called_as_oci_runtime) runs.
std::vector<char*> as_oci_command(int argc, char** argv);

// Whether ARGV0 (a path) calls gantry by Apptainer's names (apptainer, singularity: the links
// the package installs where no Apptainer is): `gantry apptainer ...`.
bool called_as_apptainer(std::string_view argv0);
// ARGV as `gantry apptainer ARGS...` (null-terminated), as as_oci_command.
std::vector<char*> as_apptainer_command(int argc, char** argv);

// The word that names the command in ARGS (the line without the program name): the first word
// that is not a global flag or the value of --root / --image-store. Empty when there is none
// (only flags: --help, --version).
std::string_view command_word(std::span<char* const> args);

// Whether NAMES, a command's space-separated names ("images ls"), holds WORD.
bool names_include(std::string_view names, std::string_view word);

// The entry of TABLE (each with a `names` member, as names_include reads it) that ARGS names,
// and the name as the line spells it (an alias too); null and empty when none does.
template <class Command>
struct Named {
    const Command* command = nullptr;
    std::string_view as_written;
};
template <class Command>
Named<Command> find_command(std::span<const Command> table, std::span<char* const> args) {
    std::string_view word = command_word(args);
    if (word.empty()) return {};
    for (auto& c : table)
        if (names_include(c.names, word)) return {&c, word};
    return {};
}

// Whether COMMAND needs the UTF-8 locale: libarchive converts pax (UTF-8) names through the
// locale's charset; the launcher and the other container commands never do, and loading locale
// data is start-up time. Empty COMMAND (none named: help, --version): yes.
bool needs_utf8_locale(std::string_view command);

// How a failure ends the process: the text for stderr (whole lines) and the exit status.
struct Ending {
    std::string message;
    int status;
};
// A command line CLI11 refused (WHAT, its message). COMMAND is the command as the line names it
// (empty when none): the hint points at its --help. For "oci" the OCI runtime's contract (runc's):
// exit 1, as every other error.
Ending usage_error(std::string_view what, std::string_view command);
// A command's error: its message, its hint, its documented exit status (docs/exit-codes.md).
Ending command_error(const Error& e);
// Anything else a command threw: an internal error (exit 1).
Ending internal_error(const std::exception& e);

} // namespace gantry::dispatch
