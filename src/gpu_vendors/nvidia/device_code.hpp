// nvidia/device_code: CUDA fat binaries as a device-code format (device_code/format.hpp): the
// --keep-arch grammar and the rewrite (tailor_cuda.hpp), the reader's bytes per architecture and
// doctor --fatbin's listing (fatbin.hpp, fatbin_report.hpp), and the variables CUDA toolchains
// read for build --gpu-arch (TORCH_CUDA_ARCH_LIST, CMAKE_CUDA_ARCHITECTURES, CUDAARCHS).
#pragma once

#include "device_code/format.hpp"

namespace gantry::gpu_vendors::nvidia {

const device_code::Format& cuda_format();

} // namespace gantry::gpu_vendors::nvidia
