// StateFile: a container's ROOT/ID/state.json (ocirt/container.hpp) read back. The runtime
// wrote it, but --root is any directory its caller names and the file outlives the process
// that wrote it, so its text is read as untrusted input: every field of the right type, the id
// the one asked for, a positive PID, a config that is a runtime spec. Anything else is
// Error(invalid) "the state of container ID is damaged", with the directory to remove.
#pragma once

#include "ocirt/container.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace gantry::ocirt {

Container parse_state(std::string_view text, const std::string& id,
                      const std::filesystem::path& dir);

} // namespace gantry::ocirt
