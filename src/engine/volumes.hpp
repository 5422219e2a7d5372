// Volumes in a run, docker's local driver (store/volumes.hpp keeps ROOT/volumes/NAME/_data):
//   -v NAME:DST[:ro|rw], --mount type=volume,source=NAME,target=DST   a named volume
//   -v DST, --mount type=volume,target=DST                           an anonymous volume
//   the image's VOLUME paths (--image-volume bind, the default)      an anonymous volume each
//   --volumes-from CONTAINER[:ro|rw]                                 that container's mounts
// (the Engine API's Binds, Mounts, Config.Volumes and HostConfig.VolumesFrom come as the same
// words). A named volume is made on first use, as docker's run makes it; an anonymous one gets a
// random 64-hex name, is recorded with its container (ContainerState::anonymous_volumes) and
// goes with it under `rm -v` and --rm, else stays, as docker's. A new volume is empty: gantry
// does not copy the image's files at DST into it (docker does), so an image VOLUME path where the
// image has files is left in the container's layer rather than hidden (a note says so). Every
// word is rewritten to bind the volume's directory, so the rest of a run sees a bind mount; the
// container's record (its spec's mounts) then names the directory, which is how a volume is
// known to be in use.
#pragma once

#include "engine/run_request.hpp"
#include "records/state.hpp"
#include "store/store.hpp"
#include "store/volumes.hpp"

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::engine {

// Rewrites R's volumes and mounts that name a volume (or none: anonymous) to bind its
// directory, making each missing one in STORE, and adds the mounts of R.volumes_from's
// containers. Error(usage) for a bad name or mode, Error(not_found) for a missing container.
void resolve_named_volumes(const store::Store& store, RunRequest& r);

// The image's VOLUME paths (CONFIG, the image config's "config" object, may hold "Volumes")
// that no mount of R already has as its destination, given what R.image_volume asks:
// an anonymous volume each (bind), a tmpfs each (tmpfs), or nothing (ignore). IMAGE_HAS_FILES
// says whether the image has files under a path (those paths are left to the image, above).
// Error(invalid) naming IMAGE for a path that is not absolute.
void add_image_volumes(const store::Store& store, RunRequest& r, const nlohmann::json& config,
                       const std::string& image,
                       const std::function<bool(const std::string&)>& image_has_files);

// Removes the anonymous volumes NAMES (of a container just removed, or made by a start that
// failed) that no container uses any more; what cannot be removed is said, never thrown.
void remove_anonymous_volumes(const store::Store& store, const std::vector<std::string>& names);

// The names of the containers (any state) whose mounts bind V's directory.
std::vector<std::string> volume_users(const store::Volume& v);

// Error(conflict) in docker's words naming the containers when V is in use.
void check_volume_unused(const store::Volume& v);

} // namespace gantry::engine
