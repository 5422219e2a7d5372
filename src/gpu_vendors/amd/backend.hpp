// The AMD (ROCm) backend of the GPU layer (gpu_vendors/backend.hpp): the host read from the KFD
// sysfs topology under --sys-root and the device nodes under --dev-root
// (gpu_vendors/amd/topology.hpp), the request (--gpus, AMD_VISIBLE_DEVICES as AMD's container
// toolkit reads it), the injection of /dev/kfd and the selected GPUs' render and card nodes, the
// doctor's ROCm rules (gpu_vendors/amd/doctor.hpp) and `cdi generate --vendor amd`
// (gpu_vendors/amd/cdi.hpp). Nothing from the host's user space is mounted: ROCm lives in the
// image.
#pragma once

#include "gpu_vendors/backend.hpp"

namespace gantry::gpu_vendors::amd {

const Backend& backend();

} // namespace gantry::gpu_vendors::amd
