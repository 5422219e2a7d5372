// The NVIDIA backend of the GPU layer (vendor/backend.hpp): the driver discovered from a driver
// root and a device root (gpu/host.hpp, cached per boot by gpu/cache.hpp), the NVIDIA container
// toolkit's request contract (gpu/request.hpp: --gpus, NVIDIA_VISIBLE_DEVICES, ..._CAPABILITIES,
// NVIDIA_REQUIRE_*), the doctor's image rules (vendor/nvidia/image_checks.hpp, cached per image by
// vendor/nvidia/gpu_facts.hpp), the injection (runspec/gpu.hpp) and `cdi generate`
// (cdi/generate.hpp).
#pragma once

#include "vendor/backend.hpp"

namespace gantry::vendor::nvidia {

const Backend& backend();

} // namespace gantry::vendor::nvidia
