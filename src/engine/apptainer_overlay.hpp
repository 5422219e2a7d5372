// engine/apptainer_overlay: `gantry apptainer --overlay DIR[:ro]` (apptainer/action.hpp checks
// the flags and fills RunRequest::apptainer_overlays): Apptainer's overlay directories laid
// over the image's root as Apptainer's runtime lays them (internal/pkg/runtime/engine/apptainer/
// container_linux.go, addOverlayMount; prepare_linux.go, loadOverlayImages):
//
//   DIR        the writable one (at most one): DIR/upper is the overlay's upper layer and
//              DIR/work its work directory, both made (0755) where missing; what the container
//              writes stays there for the next run (no "volatile")
//   DIR:ro     a lower layer above the image: DIR/upper when DIR has one (an overlay a
//              writable run filled), else DIR itself; a later flag's above an earlier one's
//
// The mount points of the container's mounts (its binds: $HOME, the working directory, ...)
// go into a skeleton directory of the run's scratch, the overlay's lowest layer, as Apptainer's
// session "overlay-lowerdir" holds them: a writable overlay keeps what the container wrote, not
// empty directories for the binds of one run.
#pragma once

#include "engine/run_request.hpp"
#include "oci/runtime_spec.hpp"
#include "runtime/launcher.hpp"

#include <string>

namespace gantry::engine {

// OVERLAY (the run's, over the image) with REQUEST's overlay directories applied; SKELETON (a
// path in the run's scratch that does not exist yet) gets the mount points of SPEC's mounts,
// and /etc/hostname when HOSTNAME_FILE (the runtime binds the container's own there).
// Error(io) naming the directory when DIR/upper or DIR/work cannot be made.
void apply_apptainer_overlays(const RunRequest& request, const oci::RuntimeSpec& spec,
                              bool hostname_file, const std::string& skeleton,
                              runtime::Overlay& overlay);

} // namespace gantry::engine
