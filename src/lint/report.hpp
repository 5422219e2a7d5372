// Output formats of gantry lint: tty (hadolint-like "Dockerfile:12 GL003 warning: ..." lines,
// each followed by its fix), json, gnu ("file:line:col: level: code message"), checkstyle XML
// and SARIF 2.1.0.
#pragma once

#include "lint/lint.hpp"

#include <string>
#include <vector>

namespace gantry::lint {

struct FileResult {
    std::string file; // as given on the command line ("-" for stdin), or --file-name
    std::vector<Finding> findings;
};

enum class Format { tty, json, gnu, checkstyle, sarif };
// Throws Error(usage) for an unknown name.
Format parse_format(const std::string& s);

// RULES: every rule that ran (lint::rules(rule_sets)), which SARIF lists.
std::string render(const std::vector<FileResult>& results, Format f, bool color,
                   const std::vector<RuleInfo>& rules);

} // namespace gantry::lint
