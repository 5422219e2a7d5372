// AMD's `gantry analyze` findings (Backend::analyze_findings): HIP-FATBIN-ARCHES, the HIP code
// objects' bytes per gfx target and what keeping one target saves; ROCM-DEVEL, ROCm's compiler,
// headers and static libraries under /opt/rocm* in the final image.
#pragma once

#include "gpu_vendors/image_findings.hpp"

#include <memory>

namespace gantry::gpu_vendors::amd {

std::unique_ptr<ImageFindings> analyze_findings();

} // namespace gantry::gpu_vendors::amd
