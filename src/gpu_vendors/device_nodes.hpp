// gpu_vendors/device_nodes: how every vendor's injection adds a host device node
// (gpu_host/device_node.hpp) to a run's OCI runtime spec. A node already in the spec (a `--device`
// of the same path, as AMD's docker line passes /dev/kfd) is left as the user gave it.
#pragma once

#include "gpu_host/device_node.hpp"
#include "oci/runtime_spec.hpp"

namespace gantry::gpu_vendors {

// with_owner: the container's node gets the host node's uid/gid too (AMD: the render group
// decides access); otherwise root's, as the NVIDIA container toolkit makes them.
void add_device_node(oci::RuntimeSpec& spec, const gpu_host::DeviceNode& n, bool with_owner);

} // namespace gantry::gpu_vendors
