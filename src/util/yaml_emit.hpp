// YAML text from a JSON value, the writing side of util/yaml.hpp: block mappings and sequences
// in the value's own key order (nlohmann::ordered_json), two spaces per level, as CDI specs and
// their tools write them. A string is written plain when YAML reads it back as the same string
// (not "yes", "null", "0.5" or "-1"), else double-quoted (JSON's string syntax is YAML's
// double-quoted style); numbers, booleans and null are written as JSON writes them, so what
// yaml::parse reads back is the value written.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace gantry::yaml {

// The value as block YAML, newline-terminated, without a document marker ("---"). Empty
// objects and lists are written in flow style: {} and [].
std::string emit(const nlohmann::ordered_json& value);

} // namespace gantry::yaml
