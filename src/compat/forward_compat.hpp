// Forward compatibility in doctor's verdicts: an image's cuda-compat libcuda is used on
// data-center GPUs, so a CUDA the host driver is too old for still runs when the compat driver
// serves it.
#pragma once

#include "compat/doctor.hpp"

#include <string>
#include <vector>

namespace gantry::compat {

// Turns CUDA-DRIVER-TOO-OLD / TORCH-CUDA-TOO-NEW findings whose CUDA version (Finding::cuda) the
// compat library serves into CUDA-/TORCH-FORWARD-COMPAT warnings naming compat_path. What it
// serves: the "CUDA Version" of its ELF note (note: that JSON text, may be empty), else the
// newest CUDA of its driver branch (compat_version, e.g. "580.65.06").
void apply_forward_compat(std::vector<Finding>& out, const std::string& compat_path,
                          const std::string& compat_version, const std::string& note);

} // namespace gantry::compat
