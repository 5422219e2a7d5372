// gantry's man pages in roff (man(7)): gantry(1) and gantry-COMMAND(1) for every command at
// every depth (gantry-system-prune(1)), rendered from the command tree (manual/command_tree.hpp).
#pragma once

#include "manual/command_tree.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace gantry::manual {

struct ManPage {
    std::string file; // "gantry-run.1"
    std::string text; // the roff source
};

// One page per command of ROOT's tree, the root's first. VERSION goes in the footer ("gantry
// 0.1.0"); no date, so that the same tree renders the same bytes (reproducible packages).
std::vector<ManPage> man_pages(const Command& root, std::string_view version);

// TEXT as roff prose: backslashes escaped, a line that would start with '.' or '\'' guarded.
std::string roff_escape(std::string_view text);

} // namespace gantry::manual
