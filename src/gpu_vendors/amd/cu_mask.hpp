// gpu_vendors/amd/cu_mask: --gpu-compute on AMD GPUs, as ROCm's HSA_CU_MASK: the compute units
// (CUs) ROCr lets the queues it creates use, per GPU ("GPU_list:CU_list[; ...]", the GPU indices
// those the process sees after ROCR_VISIBLE_DEVICES: ROCm's "Setting the number of compute units"
// page). Advisory: ROCr reads it from the process's environment, which the process may change,
// and the kernel enforces no share. A GPU's CUs are its KFD node's simd_count / simd_per_cu
// (kfd_topology.c's node properties).
#pragma once

#include "gpu_vendors/amd/topology.hpp"

#include <string>
#include <vector>

namespace gantry::gpu_vendors::amd {

// The CUs of GPU G on the host whose sys root is SYS_ROOT (its KFD node's properties);
// Error(run_failed) naming the file when they cannot be read.
unsigned compute_units(const std::string& sys_root, const Gpu& g);

// HSA_CU_MASK's value giving the container's GPUs (index i: CU_COUNTS[i] CUs) PERCENT of their
// CUs each, at least one: the first ones (the kernel spreads a mask's CUs over the shader
// engines), GPUs with the same count in one set ("0-1:0-151").
std::string hsa_cu_mask(const std::vector<unsigned>& cu_counts, unsigned percent);

} // namespace gantry::gpu_vendors::amd
