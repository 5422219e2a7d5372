// gpu_vendors/device_nodes: how every vendor's injection adds a host device node
// (gpu/device_node.hpp) to a run's OCI runtime spec. A node already in the spec (a `--device` of
// the same path, as AMD's docker line passes /dev/kfd) is left as the user gave it.
#pragma once

#include "gpu_host/device_node.hpp"
#include "gpu_vendors/backend.hpp"
#include "oci/runtime_spec.hpp"

#include <string>
#include <vector>

namespace gantry::gpu_vendors {

// with_owner: the container's node gets the host node's uid/gid too (AMD: the render group
// decides access); otherwise root's, as the NVIDIA container toolkit makes them.
void add_device_node(oci::RuntimeSpec& spec, const gpu_host::DeviceNode& n, bool with_owner);

// crun's annotation (podman's --group-add keep-groups), which gantry's launcher honours too.
inline constexpr const char* kKeepGroupsAnnotation = "run.oci.keep_original_groups";

// Throws Error(run_failed) unless CALLER can open NODE read-write: MISSING_HINT when it does not
// exist (which module to load, which --dev-root), else its mode and group with the fix (join the
// group), MORE_FIX appended to it. WHAT names the node ("GPU 0's render node").
void check_node_access(const gpu_host::DeviceNode& node, const std::string& what,
                       const CallerIds& caller, const char* missing_hint,
                       const char* more_fix = "");

// The nodes' groups for the container's process: as the host's root, their gids are added
// (docker's --group-add; the numeric gid, as the image's group of that name may differ); under
// subordinate-id maps the host's gids are not mapped, so setgroups could only drop them: the
// caller's groups are kept (kKeepGroupsAnnotation); rootless with a single-id map setgroups(2)
// is denied and the caller's groups stay anyway.
void add_node_groups(oci::RuntimeSpec& spec, const std::vector<const gpu_host::DeviceNode*>& nodes,
                     const CallerIds& caller);

} // namespace gantry::gpu_vendors
