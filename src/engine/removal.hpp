// Removing recorded containers: `gantry rm`, the Engine API's DELETE /containers/{id}, and
// docker's `container prune`. A container goes with its record (records::remove_container),
// its directory (the writable layer on disk, its logs, its kept request) and its hold on its
// image in the store.
#pragma once

#include "records/state.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gantry::engine {

// Removes S whole, as `gantry rm -f` does (a running one is killed first); with VOLUMES
// (`rm -v`, docker's v=1) its anonymous volumes too, where no other container uses them.
void remove_whole_container(records::StateDir& states, const records::ContainerState& s,
                            bool volumes = false);

struct PrunedContainers {
    std::vector<std::string> ids; // of the containers removed, in the order removed
    std::uint64_t bytes = 0;      // their directories' disk usage before the removal
};
// docker's `container prune`: every container that is not running, nor being started by its
// monitor, and that SELECTED accepts, removed whole.
PrunedContainers
prune_containers(records::StateDir& states,
                 const std::function<bool(const records::ContainerState&)>& selected);

} // namespace gantry::engine
