// engine/image_groups: docker's --group-add NAME (and the Engine API's GroupAdd names), looked up
// in the image's /etc/group as docker's daemon looks them up: the image's files read as the GPU
// step reads them (its layers in the store, its squashfs file, a lazily pulled image's tree, an
// Apptainer sandbox directory). The file is the image's, hence hostile: read bounded, each line
// parsed on its own, a malformed line never matching.
#pragma once

#include "engine/engine.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gantry::engine {

// The GID of group NAME in the text of an /etc/group file; nullopt when no well-formed line
// names it.
std::optional<std::uint32_t> group_id(std::string_view group_file, std::string_view name);

// P's options' group_add_names resolved into its group_add (in the order given): Error(usage)
// naming a group the image's /etc/group does not have, and the fix.
void resolve_group_names(Prepared& p);

} // namespace gantry::engine
