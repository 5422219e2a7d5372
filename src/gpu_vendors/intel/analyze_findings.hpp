// Intel's `gantry analyze` findings (Backend::analyze_findings): INTEL-DEVICE-TARGETS, SYCL and
// OpenMP offload binaries carrying Intel GPU device code for several targets (ahead-of-time
// images per device, "pvc", "acm-g10", and SPIR-V for the JIT, "spirv"), with the bytes per
// target and what keeping one target saves. tailor does not rewrite Intel device code, so the
// fix is the build's -fsycl-targets.
#pragma once

#include "gpu_vendors/image_findings.hpp"

#include <memory>

namespace gantry::gpu_vendors::intel {

std::unique_ptr<ImageFindings> analyze_findings();

} // namespace gantry::gpu_vendors::intel
