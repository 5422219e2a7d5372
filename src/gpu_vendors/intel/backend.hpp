// Intel's GPUs (Data Center GPU Max and Flex, Arc) as a gantry GPU vendor: the i915/xe DRM
// devices, Level Zero and the compute runtime from the host, CDI intel.com/gpu, the doctor's
// rules and the device-code checks of SYCL/OpenMP offload binaries. Registered in
// gpu_vendors/all/backends.cpp; it sees the vendor-neutral interface only.
#pragma once

#include "gpu_vendors/backend.hpp"

namespace gantry::gpu_vendors::intel {

const Backend& backend();

} // namespace gantry::gpu_vendors::intel
