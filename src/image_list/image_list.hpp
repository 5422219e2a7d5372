// image_list: what `gantry images` and the Engine API's GET /images/json list, in that order:
// the local store's images (one entry per name and platform: a name holding several platforms,
// store/platforms.hpp, is listed once for each), the lazily pulled ones (how much of each is
// local), and the shared stores' images and SIF files (the node's squashfs cache first). Each
// entry carries what docker's filters see (docker_model::ImageFacts) and docker's sizes; the
// filter words (docker's --filter) are applied here, before/since naming any local image.
#pragma once

#include "docker_model/filters.hpp"
#include "sqsh/shared.hpp"
#include "store/images.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gantry::image_list {

enum class Where { local, lazy, shared };

struct Entry {
    Where where = Where::local;
    docker_model::ImageFacts facts; // reference, ID, manifest digest, created, labels
    // docker's SIZE: the unpacked size (local: store::image_sizes; the compressed one for an
    // image without an unpacked tree), a lazy image's whole size, a shared file's bytes
    std::uint64_t size = 0;
    std::uint64_t compressed = 0;
    std::optional<store::Image> image; // local
    std::uint64_t local_bytes = 0;     // lazy: how much of it is here
    std::string lazy_text;             // lazy: "lazy, 37% local"
    std::optional<sqsh::SharedImage> shared;
    bool present = true; // shared: its file is there (a store can list a file that is gone)
};

struct Listing {
    std::vector<Entry> entries;
    std::vector<std::string> shared_dirs; // searched, the node's squashfs cache first
};

// The images of STORE, its lazy records and the shared stores (IMAGE_STORES as the CLI's
// --image-store gives them), those FILTERS (docker's words) keep. A local image that cannot be
// read is left out with a warning naming it and the fix (`gantry system fsck`).
Listing list(store::Store& store, const std::vector<std::string>& image_stores,
             const std::vector<std::string>& filters);

// docker info's Images: how many images list() gives, each counted once (by its ID) however
// many names it is listed under; the untagged ones too.
std::size_t count_images(store::Store& store, const std::vector<std::string>& image_stores);

} // namespace gantry::image_list
