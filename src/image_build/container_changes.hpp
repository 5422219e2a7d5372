// What a container changed in its image's filesystem, as docker's `diff` (and the Engine API's
// GET /containers/{id}/changes) lists it: its disk writable layer's upper directory read as a
// layer is (image_build/upper_layer.hpp: a whiteout is a deletion, the runtime's mount stubs and
// the /etc/hostname, hosts and resolv.conf it writes left out, as docker's diff never shows them),
// each path Added where the image has none, Changed where it has one, Deleted for a whiteout,
// sorted by path. The image's files are looked up in its layers in the store, or in its squashfs
// file. A container whose writable layer is in memory (gone with its process, and invisible outside
// it) or whose image was lazily pulled and is no longer in the store is Error(unsupported) saying
// why; a read-only container changed nothing.
#pragma once

#include "records/state.hpp"

#include <string>
#include <vector>

namespace gantry::image_build {

struct ContainerChange {
    std::string path; // absolute, as the container sees it
    char kind = 'C';  // 'C' changed, 'A' added, 'D' deleted
    int api_kind() const { return kind == 'C' ? 0 : kind == 'A' ? 1 : 2; } // docker's Kind
};

std::vector<ContainerChange> container_changes(const records::ContainerState& s);

} // namespace gantry::image_build
