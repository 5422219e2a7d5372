// Keeping the host's GPU driver out of a RUN step's layer. A step given devices (build/
// step_devices.hpp) gets them from the same injection as `gantry run` (engine::prepare: the
// vendor backend's edits, CDI specs and their hooks); before it runs, its runtime spec is
// rewritten so the injection writes nothing into the root that a layer would keep:
//   - the linker set-up (ld.so.conf.d drop-ins and the ldconfig run after pivot_root) and CDI
//     `update-ldcache` hooks are dropped; the directories they named, and those of every
//     injected library, go first in the step's LD_LIBRARY_PATH instead, as Apptainer's
//     `build --nv` does: /etc/ld.so.cache and /etc/ld.so.conf.d stay the image's
//   - symlinks the injection makes in the root (the SONAME links of the backend, CDI
//     `create-symlinks` hooks) are recorded, with the mount targets the runtime creates
//     (empty files and directories), for the commit to leave out (image_build/upper_layer.hpp)
//     while they are still what the injection made.
// A step that itself runs ldconfig (a package's trigger) records what it finds, driver libraries
// in the image's library directories included, in the image's cache: names whose files are not
// in the image, which the loader skips.
#pragma once

#include "oci/runtime_spec.hpp"

#include <map>
#include <string>

namespace gantry::image_build {

// (The mount targets are every mount's destination, which run_step leaves out for any step.)
struct InjectionTraces {
    std::map<std::string, std::string> symlinks; // relative link path -> its target
};

// Rewrites SPEC (prepared with devices) as the header says and returns what the injection may
// still leave in the upper directory.
InjectionTraces confine_injection(oci::RuntimeSpec& spec);

} // namespace gantry::image_build
