// The AMD (ROCm) backend of the GPU layer (gpu_vendors/backend.hpp): the host read from the KFD
// sysfs topology under --sys-root and the device nodes under --dev-root
// (gpu_vendors/amd/topology.hpp), the request (--gpus, AMD_VISIBLE_DEVICES as AMD's container
// toolkit reads it), one description of a container's GPUs for every door (amd-ctk's CDI spec:
// /dev/kfd and the selected GPUs' render and card nodes; with ROCR_VISIBLE_DEVICES naming them
// and, for gantry run, the nodes' groups), the doctor's ROCm rules (gpu_vendors/amd/doctor.hpp) and
// `cdi generate --vendor amd` (gpu_vendors/amd/cdi.hpp). Nothing from the host's user space is
// mounted: ROCm lives in the image.
#pragma once

#include "gpu_host/device_node.hpp"
#include "gpu_vendors/backend.hpp"

#include <string>

namespace gantry::gpu_vendors::amd {

const Backend& backend();

// Error(run_failed) unless the caller can open NODE read-write (WHAT names it in the message:
// "the ROCm compute node", "GPU 0's render node"); the message names the node, its group and gid,
// and the fix. gantry run checks it before any namespace exists.
void check_access(const gpu_host::DeviceNode& node, const std::string& what,
                  const CallerIds& caller);

} // namespace gantry::gpu_vendors::amd
