// compat/finding: what every vendor's doctor rule returns. A finding has a stable ID, a severity,
// one sentence naming the thing, and the fix; the rules themselves live with their vendor
// (gpu_vendors/nvidia/doctor_rules.hpp, gpu_vendors/amd/rocm_rules.hpp for AMD).
#pragma once

#include <string>
#include <vector>

namespace gantry::compat {

enum class Severity { pass, info, warn, fail };
const char* to_string(Severity s);

struct Finding {
    std::string id; // stable, e.g. "HOST-NO-DRIVER", "CUDA-DRIVER-TOO-OLD"
    Severity severity = Severity::pass;
    std::string message;
    std::string fix;
    int cuda = 0; // the CUDA version (CudaVersion::encoded) a driver rule was about; 0: none
};

// The worst severity among the findings.
Severity worst(const std::vector<Finding>& f);

} // namespace gantry::compat
