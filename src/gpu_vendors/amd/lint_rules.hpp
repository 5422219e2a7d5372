// AMD's `gantry lint` rules (lint::RuleSet, through Backend::lint_rules): GL013 ROCm's GPU probes
// (rocminfo, rocm-smi, amd-smi, rocm_agent_enumerator) or /dev/kfd in RUN, GL017 the GPU target
// lists (PYTORCH_ROCM_ARCH, GPU_TARGETS, AMDGPU_TARGETS) disagreeing (lint_arch.cpp);
// HIP_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES and GPU_DEVICE_ORDINAL for GL016; ROCm as a stack
// (lint_stack.cpp) for GL001, GL002 and GL008.
#pragma once

#include "lint/lint.hpp"

namespace gantry::gpu_vendors::amd {

const lint::RuleSet& lint_rules();
// ROCm for the rules that compare stacks (lint/stacks.hpp).
const lint::Stack& lint_stack();

// GL017 (lint_arch.cpp).
void lint_arch_lists(const lint::RuleContext& cx);

} // namespace gantry::gpu_vendors::amd
