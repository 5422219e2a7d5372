// gantry's config file: where it is and reading its text. What its keys mean belongs to the
// module that reads them (analyze: licence_check; sqsh: image_stores).
#pragma once

#include "util/yaml.hpp"

#include <string>

namespace gantry::config_file {

// $GANTRY_CONFIG (it must then exist), else ${XDG_CONFIG_HOME:-~/.config}/gantry/config.yaml
// when it exists, else /etc/gantry/config.yaml when it exists; "" when there is none.
std::string path();

// The text of FILE (at most 1 MiB); Error(io) naming it, with the fix, when it cannot be read.
std::string read(const std::string& file);

// TEXT, the config file FILE's, as YAML. Error(invalid) naming FILE (and the line) when it is
// not, with EXAMPLE (the reader's keys) as the fix.
yaml::Node parse(const std::string& text, const std::string& file, const std::string& example);

} // namespace gantry::config_file
