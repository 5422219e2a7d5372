// apptainer/delegate: Apptainer's image commands (pull, build, verify, sign, push) as the gantry
// command lines that do their job: `gantry apptainer pull OUT.sif docker://REF` is `gantry pull
// REF --format sif -o OUT.sif`, and so on (docs/apptainer.md lists each). The CLI executes the
// line it gets; what gantry cannot do is refused here, naming the source or flag.
#pragma once

#include <string>
#include <vector>

namespace gantry::apptainer {

// The file `apptainer pull docker://REF` writes when given none: the repository's last
// component, '_', the tag ("latest" when none), ".sif" (alpine -> alpine_latest.sif).
std::string pull_file_name(const std::string& ref);

// REF of a "docker://REF" source; Error(usage) naming the scheme for library:// (with a
// sentence naming oras://), oras:// (ORAS sources are oras_ref's), shub:// and anything else.
std::string docker_ref(const std::string& source, const std::string& verb);

// REF of an "oras://REF" source, else "".
std::string oras_ref(const std::string& source);

// Apptainer's refusal of an existing OUTPUT (Error(conflict)) unless FORCE.
void refuse_existing(const std::string& output, bool force);

// `apptainer pull [OUTPUT] docker://REF`: gantry's pull line (OUTPUT "": pull_file_name). An
// existing OUTPUT is refused (Error(conflict)) unless FORCE, as Apptainer's.
std::vector<std::string> pull_line(std::string output, const std::string& source, bool force);

// `apptainer verify [--key K]... [--legacy-insecure] [--json] FILE` and `apptainer sign --key K
// FILE`: gantry's verify and sign lines.
std::vector<std::string> verify_line(const std::string& file, const std::vector<std::string>& keys,
                                     bool legacy, bool json);
std::vector<std::string> sign_line(const std::string& file, const std::string& key);

} // namespace gantry::apptainer
