// PLACEHOLDER (issue 22, replaced by the amd-doctor branch): no ROCm rules yet.
#include "vendor/amd/doctor.hpp"

namespace gantry::vendor::amd {

std::vector<compat::Finding> host_findings(const gpu::amd::Host&, const CallerIds&) {
    return {};
}

std::vector<compat::Finding> image_findings(const store::Store&, const store::Image&,
                                            const std::string&, const std::vector<std::string>&,
                                            const gpu::amd::Host&,
                                            const std::vector<const gpu::amd::Gpu*>&,
                                            const std::string&) {
    return {};
}

std::vector<compat::Finding>
image_findings_cached(const store::Store&, const store::Image&, const std::string&,
                      const std::vector<std::string>&, const gpu::amd::Host&,
                      const std::vector<const gpu::amd::Gpu*>&, const std::string&) {
    return {};
}

} // namespace gantry::vendor::amd
