// Intel's `gantry lint` rules (lint::RuleSet, through Backend::lint_rules): GL001 for Intel's
// oneAPI toolkit images (intel/oneapi-basekit, intel/oneapi-hpckit: the DPC++/C++ and Fortran
// compilers, headers and static libraries) at the bottom of the shipped stage, whose run-time
// counterpart is intel/oneapi-runtime with the same tag; ZE_AFFINITY_MASK and
// ONEAPI_DEVICE_SELECTOR (Level Zero's and SYCL's device selection) for GL016.
#pragma once

#include "lint/lint.hpp"

namespace gantry::gpu_vendors::intel {

const lint::RuleSet& lint_rules();

} // namespace gantry::gpu_vendors::intel
