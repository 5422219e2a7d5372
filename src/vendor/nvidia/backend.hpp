// The NVIDIA backend of the GPU layer (vendor/backend.hpp): the driver discovered from a driver
// root and a device root (host.hpp, cached per boot by host_cache.hpp), the NVIDIA container
// toolkit's request contract (request.hpp: --gpus, NVIDIA_VISIBLE_DEVICES, ..._CAPABILITIES,
// NVIDIA_REQUIRE_*), the doctor's rules (doctor_rules.hpp, require.hpp, kernels.hpp,
// forward_compat.hpp; the image's cached per image by gpu_facts.hpp), the injection (inject.hpp)
// and `cdi generate` (cdi.hpp), all in vendor/nvidia/.
#pragma once

#include "vendor/backend.hpp"

namespace gantry::vendor::nvidia {

const Backend& backend();

} // namespace gantry::vendor::nvidia
