// deffile/arguments: Apptainer's build arguments in a definition file. A stage's %arguments
// section holds NAME=VALUE defaults; `{{ NAME }}` (spaces allowed inside the braces, NAME a word
// of letters, digits and '_') in the stage's header values, section arguments and section bodies
// is replaced by the --build-arg value, else the default, as Apptainer's args.NewReader does: a
// default may itself name another variable, replaced once; a reference on a line that holds a
// comment before it (`#` followed by anything but `!`) is left as written; `{{` that does not
// form a reference (`{{ a-b }}`, `{{.Id}}`, an unclosed one) is text. A variable neither
// defines is Error(invalid) naming it, its line and the fix.
#pragma once

#include "deffile/deffile.hpp"

#include <cstddef>
#include <map>
#include <set>
#include <string>

namespace gantry::deffile {

// The most text a definition's header values, sections and their arguments may become together
// (a default that names another variable many times would otherwise square the file's size).
inline constexpr std::size_t kMaxSubstituted = 16u << 20;

// Substitutes every stage of DEF in place; returns the names of BUILD_ARGS that were used.
// Error(invalid) for a malformed %arguments line or an undefined variable.
std::set<std::string> substitute(Definition& def,
                                 const std::map<std::string, std::string>& build_args,
                                 const std::string& file);

} // namespace gantry::deffile
