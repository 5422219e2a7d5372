// cdi/spec_write: the model out as CDI spec text, in the CDI Go types' field order with empty
// fields left out, as nvidia-ctk writes specs: indented JSON, or block YAML (util/yaml_emit.hpp)
// that podman, nvidia-ctk and gantry read back as the same spec.
#pragma once

#include "cdi/spec_model.hpp"

#include <filesystem>
#include <string>

namespace gantry::cdi {

// Serialisation in the Go field order, empty fields omitted.
std::string to_yaml(const Spec& spec);
std::string to_json(const Spec& spec); // indented, newline-terminated
std::string serialize(const Spec& spec, Format format);
// Writes the spec to path (format by extension) through a temporary file and rename, mode 0644.
void write_atomic(const Spec& spec, const std::filesystem::path& path);

} // namespace gantry::cdi
