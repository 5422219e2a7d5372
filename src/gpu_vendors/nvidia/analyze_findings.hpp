// NVIDIA's `gantry analyze` findings (Backend::analyze_findings): FATBIN-ARCHES, the CUDA fat
// binaries' bytes per sm_XX and what keeping only the newest saves; NVIDIA-CAPS-ALL, the image
// asking for every driver capability.
#pragma once

#include "gpu_vendors/image_findings.hpp"

#include <memory>

namespace gantry::gpu_vendors::nvidia {

std::unique_ptr<ImageFindings> analyze_findings();

} // namespace gantry::gpu_vendors::nvidia
