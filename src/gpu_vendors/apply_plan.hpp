// gpu_vendors/apply_plan: a vendor's GpuPlan (backend.hpp) applied to a container's runtime spec
// through the one CDI applier (cdi::apply), whatever the door. What differs by door is what the
// runtime that starts the container can do:
//   Door::run (gantry's own launcher): the hooks that call gantry itself are done in-process as
//     the launcher's setup steps (oci::ContainerSetup), never exec'ed: `gantry hook
//     create-symlinks` as links made in-root, `update-ldcache` as an ld.so.conf.d drop-in
//     (00-gantry-cdi.conf, the hook's) and the container's ldconfig, a vendor's own hook
//     (Backend::hooks) as its file overlays, written under the container's STATE_DIR and bound
//     read-only; any other hook goes into spec.hooks, which the launcher runs. The spec's mounts
//     keep their order (the description's come after), and a node or mount the spec already has
//     at a path stays (the user's --device /dev/kfd, AMD's docker line, or -v wins). The
//     description's additionalGids follow the caller: added as the host's root; under
//     subordinate-id maps the caller's own groups are kept instead (kKeepGroupsAnnotation: the
//     host's gids are not mapped); with a single-id map dropped (setgroups(2) is denied there: the
//     caller's groups stay anyway).
//   Door::bundle and Door::oci: the hooks into spec.hooks (runc, crun and gantry oci run them);
//     the mounts sorted by depth, as the CDI library sorts them.
#pragma once

#include "gpu_vendors/backend.hpp"
#include "oci/runtime_spec.hpp"

#include <string>
#include <vector>

namespace gantry::gpu_vendors {

// Applies PLAN's devices (BACKEND's) to SPEC for CTX's door; returns their qualified names.
// Error(not_found) for a device the plan's spec lacks; warnings go to WARNINGS.
std::vector<std::string> apply_plan(oci::RuntimeSpec& spec, const Backend& backend,
                                    const GpuPlan& plan, const GpuContext& ctx,
                                    const std::string& state_dir,
                                    std::vector<std::string>* warnings);

// Door::run's part: HOOK done in-process when it calls gantry (GANTRY_PATH) itself, as the
// header says; false (nothing done) for any other hook.
bool do_own_hook(oci::RuntimeSpec& spec, const Backend& backend, const cdi::Hook& hook,
                 const std::string& gantry_path, const std::string& state_dir);

} // namespace gantry::gpu_vendors
