// A device node (gpu_host/device_node.hpp's DeviceNode, every vendor's) as an entry of a host
// cache: the NVIDIA cache (gpu_vendors/nvidia/host_cache.hpp) and the AMD one
// (gpu_vendors/amd/cache.hpp) share it. nlohmann::json's conversions (found by argument-dependent
// lookup): json(node), j.get<DeviceNode>(), and a DeviceNode member of a
// NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE type.
#pragma once

#include "gpu_host/device_node.hpp"

#include <nlohmann/json_fwd.hpp>

namespace gantry::gpu_host {

void to_json(nlohmann::json& j, const DeviceNode& n);
// Throws nlohmann's exceptions for a damaged entry.
void from_json(const nlohmann::json& j, DeviceNode& n);

} // namespace gantry::gpu_host
