// The AMD (ROCm) backend of the GPU layer (vendor/backend.hpp): the host read from the KFD sysfs
// topology under --sys-root and the device nodes under --dev-root (gpu/amd/topology.hpp), the
// request (--gpus, AMD_VISIBLE_DEVICES as AMD's container toolkit reads it), the injection of
// /dev/kfd and the selected GPUs' render and card nodes, the doctor's ROCm rules
// (vendor/amd/doctor.hpp) and `cdi generate --vendor amd` (vendor/amd/cdi.hpp). Nothing from the
// host's user space is mounted: ROCm lives in the image.
#pragma once

#include "vendor/backend.hpp"

namespace gantry::vendor::amd {

const Backend& backend();

} // namespace gantry::vendor::amd
