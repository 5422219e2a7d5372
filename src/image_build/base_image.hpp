// image_build/base_image: the image a FROM (or COPY --from, RUN --mount from=) names, as the build
// gets it: the store's, pulled when the store lacks it or when --pull says always, and for a
// stage's platform: the image of that platform the name holds (store/platforms.hpp), else pulled
// for it and added to the name, as BuildKit resolves each FROM for its stage's platform.
#pragma once

#include "oci/image.hpp"
#include "registry/pull.hpp"
#include "store/images.hpp"

#include <functional>
#include <string>

namespace gantry::image_build {

// REF from STORE, or pulled with PULL_OPTIONS (always when PULL). PLATFORM: the stage's (null:
// any). SAY prints a progress line. Throws what store::find_image and registry::pull throw.
store::Image base_image(store::Store& store, const std::string& ref, bool pull,
                        const registry::PullOptions& pull_options, const oci::Platform* platform,
                        const std::function<void(const std::string&)>& say);

} // namespace gantry::image_build
