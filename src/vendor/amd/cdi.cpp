// PLACEHOLDER (issue 22, replaced by the amd-cdi branch).
#include "vendor/amd/cdi.hpp"

#include "util/error.hpp"

namespace gantry::vendor::amd {

cdi::Spec generate_cdi(const gpu::amd::Host&, const CdiOptions&, std::vector<std::string>*) {
    throw Error(Errc::unsupported, "cdi generate --vendor amd is not built yet");
}

} // namespace gantry::vendor::amd
