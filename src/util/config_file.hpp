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

// The top-level keys gantry reads; what each means belongs to its module: image_stores (sqsh/
// shared), kernel_cache, kernel_cache_max_size and kernel_cache_registry (engine/kernel_caches),
// licence_check (analyze/licence_check), network (engine/networks: gantry run's default network),
// pull_policy (engine/pull_policy), registry_transfer (registry/transfer_bounds), store
// (store/layer_tar: keep_compressed).
extern const char* const kKeys[9];

// DOC, the config file FILE's parsed text: Error(invalid) naming the line of a key gantry does not
// know (nothing silently ignored), or when DOC is neither empty nor a mapping.
void check_keys(const yaml::Node& doc, const std::string& file);

// The config file's document, read, parsed and its keys checked; a null node when there is no
// file. FILE is set to its path.
yaml::Node load(std::string& file, const std::string& example);

} // namespace gantry::config_file
