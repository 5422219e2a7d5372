// The NVIDIA backend of the GPU layer (gpu_vendors/backend.hpp): the driver discovered from a
// driver root and a device root (host.hpp, cached per boot by host_cache.hpp), the NVIDIA container
// toolkit's request contract (request.hpp: --gpus, NVIDIA_VISIBLE_DEVICES, ..._CAPABILITIES,
// NVIDIA_REQUIRE_*), the doctor's rules (doctor_rules.hpp, require.hpp, kernels.hpp,
// forward_compat.hpp; the image's cached per image by gpu_facts.hpp), and the one description of
// a container's GPUs that every door applies and `cdi generate` writes (cdi.hpp), all in
// gpu_vendors/nvidia/.
#pragma once

#include "gpu_vendors/backend.hpp"

namespace gantry::gpu_vendors::nvidia {

const Backend& backend();

} // namespace gantry::gpu_vendors::nvidia
