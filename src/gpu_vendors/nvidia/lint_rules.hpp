// NVIDIA's `gantry lint` rules (lint::RuleSet, through Backend::lint_rules): GL009
// NVIDIA_DRIVER_CAPABILITIES=all, GL013 nvidia-smi in RUN, GL015 the CUDA driver stubs visible at
// run time; CUDA_VISIBLE_DEVICES for GL016; CUDA as a stack (lint_stack.cpp) for GL001, GL002 and
// GL008.
#pragma once

#include "lint/lint.hpp"

namespace gantry::gpu_vendors::nvidia {

const lint::RuleSet& lint_rules();
// CUDA for the rules that compare stacks (lint/stacks.hpp).
const lint::Stack& lint_stack();

} // namespace gantry::gpu_vendors::nvidia
