// A device node (gpu/device_node.hpp's DeviceNode, every vendor's) as an entry of a host cache: the
// NVIDIA cache (gpu_vendors/nvidia/host_cache.hpp) and the AMD one (gpu_vendors/amd/cache.hpp)
// share it.
#pragma once

#include "gpu/device_node.hpp"

#include <nlohmann/json_fwd.hpp>

namespace gantry::gpu {

// Reading throws nlohmann's exceptions for a damaged entry.
nlohmann::json device_node_to_json(const DeviceNode& n);
DeviceNode device_node_from_json(const nlohmann::json& j);

} // namespace gantry::gpu
