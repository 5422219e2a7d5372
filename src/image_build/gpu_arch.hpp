// --gpu-arch host|LIST: the GPU architectures a build compiles device code for, handed to the
// build as the variables the toolchains read, so a local build compiles kernels only for the
// GPUs it will run on. LIST is tailor's --keep-arch grammar (sm_90, 8.0, compute_80 for NVIDIA;
// gfx90a, gfx942:xnack- for AMD); `host` takes the targets of the GPUs discovered on this host
// (gpu_vendors::host_targets, with --driver-root/--dev-root/--sys-root). The variables, each
// format's (device_code::Format::build_env):
//   NVIDIA  TORCH_CUDA_ARCH_LIST="8.0;9.0"  CMAKE_CUDA_ARCHITECTURES="80;90"  CUDAARCHS="80;90"
//   AMD     PYTORCH_ROCM_ARCH="gfx90a;gfx942"  GPU_TARGETS=...  AMDGPU_TARGETS=...
//   both    GANTRY_GPU_ARCH="sm_80,gfx90a" (the list as given, resolved)
// They are build arguments (an `ARG TORCH_CUDA_ARCH_LIST` takes the value) and the environment
// of every RUN step (never written into the image's config).
#pragma once

#include "gpu_vendors/all/backends.hpp"

#include <map>
#include <string>

namespace gantry::image_build {

std::map<std::string, std::string> gpu_arch_env(const std::string& value,
                                                const gpu_vendors::Roots& roots);

} // namespace gantry::image_build
