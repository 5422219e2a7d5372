// load: images from a `docker save` archive, an OCI archive (tar of a layout) or an OCI layout
// directory into the store. Every blob is verified; a failure leaves no new reference behind.
#pragma once

#include "oci/image.hpp"
#include "store/store.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gantry::archive {

struct LoadOptions {
    std::optional<oci::Platform> platform; // pick from multi-platform indexes (default: host)
    std::string name; // repository for images the archive names only by tag (or not at all)
    bool privileged = false;
    unsigned jobs = 0;
};

struct LoadedImage {
    std::vector<std::string> refs; // normalised references now pointing at the image
    oci::Digest manifest;
    oci::Digest config; // the image ID
    std::string format; // "docker-archive", "oci-archive", "oci-dir"
};

std::vector<LoadedImage> load(store::Store& store, const std::filesystem::path& path,
                              const LoadOptions& opt);

} // namespace gantry::archive
