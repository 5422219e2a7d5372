// Named volumes in a run (docker's local driver: store/volumes.hpp keeps ROOT/volumes/NAME/_data):
// `-v NAME:DST[:ro|rw]` and `--mount type=volume,source=NAME,target=DST` (the Engine API's Binds
// and Mounts of type volume come as the same words). Each volume is made on first use, as
// docker's run makes it (empty: gantry does not copy the image's files at DST into it), and the
// words are rewritten to bind its directory, so the rest of a run sees a bind mount; the
// container's record (its spec's mounts) then names the directory, which is how a volume is
// known to be in use.
#pragma once

#include "engine/run_request.hpp"
#include "store/store.hpp"
#include "store/volumes.hpp"

#include <string>
#include <vector>

namespace gantry::engine {

// Rewrites R's volumes and mounts that name a volume to bind its directory, making each volume
// missing in STORE. Error(usage) for a bad name; a host path is left as it is.
void resolve_named_volumes(const store::Store& store, RunRequest& r);

// The names of the containers (any state) whose mounts bind V's directory.
std::vector<std::string> volume_users(const store::Volume& v);

// Error(conflict) in docker's words naming the containers when V is in use.
void check_volume_unused(const store::Volume& v);

} // namespace gantry::engine
