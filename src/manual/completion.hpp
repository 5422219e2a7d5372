// gantry's bash and zsh completion scripts, rendered from the command tree
// (manual/command_tree.hpp): the subcommands and options of every command, which options take a
// value, and what each operand names. Images of the store and containers of the state directory
// are listed when completing, by `gantry __complete images|containers` (the same --root).
#pragma once

#include "manual/command_tree.hpp"

#include <string>

namespace gantry::manual {

// The script for bash-completion (/usr/share/bash-completion/completions/gantry).
std::string bash_completion(const Command& root);
// The script for zsh's compinit (/usr/share/zsh/vendor-completions/_gantry).
std::string zsh_completion(const Command& root);

} // namespace gantry::manual
