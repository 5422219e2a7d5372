// gantry lint configuration file (hadolint's .hadolint.yaml keys):
//
//   failure-threshold: warning        # error | warning | info | none
//   ignored: [GL004, GL016]
//   override:
//     error: [GL007]
//     warning: []
//     info: [GL003]
#pragma once

#include "lint/lint.hpp"

#include <filesystem>
#include <map>
#include <set>
#include <string>

namespace gantry::lint {

struct Config {
    std::string threshold; // "" when not set
    std::set<std::string> ignored;
    std::map<std::string, Severity> severity;
};

// Throws Error(not_found) for a missing file, Error(invalid) naming the file and line for
// malformed YAML, an unknown key or a value of the wrong type.
Config load_config(const std::filesystem::path& path);

} // namespace gantry::lint
