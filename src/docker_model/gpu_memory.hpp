// A container's GPU memory through cgroup v2 dmem (--gpu-memory, --gpu-memory-reservation and
// their io.gantry.* annotations: gpu_limits/apply.hpp): each device memory region's limit
// (dmem.max), reservation (dmem.min) and, while the container runs, its usage (dmem.current in
// its own cgroup), as inspect's GantryGpuMemory, the Engine API stats' gantry_gpu_memory and
// `gantry stats`' .GpuMemUsage show them.
#pragma once

#include "records/state.hpp"

#include <nlohmann/json.hpp>

namespace gantry::docker_model {

// [{Region, Limit, Reservation, Usage}] in region order, each field present when known (Limit
// and Reservation a number of bytes, or "max"); empty when S's spec holds no dmem limit. RUNNING:
// Usage is read (the cgroup is gone otherwise).
nlohmann::json gpu_memory(const records::ContainerState& s, bool running);

} // namespace gantry::docker_model
