// layer/single_layer_manifest: the manifest of an image made of one gzip layer, what `gantry slim`
// (its flattened result) and `gantry load` of a squashfs file (its one layer) both write.
#pragma once

#include "oci/image.hpp"

#include <cstdint>
#include <string>

namespace gantry::layer {

// A manifest whose config is `config_text` and whose only layer is the gzip blob `blob` of
// `size` bytes; docker's media types when `docker` (the image it was made from was docker's),
// else OCI's. The caller stores config_text and the manifest's JSON.
oci::Manifest single_layer_manifest(const std::string& config_text, const oci::Digest& blob,
                                    std::uint64_t size, bool docker);

} // namespace gantry::layer
