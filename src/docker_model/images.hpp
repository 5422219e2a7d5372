// docker's shapes of gantry's images: an `images --format` row (docker's formatter fields) and
// `inspect --type image` (docker's ImageInspect, the fields tools read).
#pragma once

#include "docker_model/filters.hpp"
#include "gotemplate/docker_format.hpp"
#include "store/images.hpp"

#include <nlohmann/json.hpp>

namespace gantry::docker_model {

using json = nlohmann::json;

// A listed image as `images` shows it: facts for the filters, its size (bytes), and where it
// is when not in the local store ("" local; a lazy or shared store's name).
struct ImageListing {
    ImageFacts facts;
    std::uint64_t size = 0;       // docker's: unpacked (store::ImageSize)
    std::uint64_t compressed = 0; // the layer blobs and config (0: not known)
};

// The row `images --format` executes: .ID .Repository .Tag .Digest .CreatedSince .CreatedAt
// .Size .VirtualSize .SharedSize .UniqueSize .Containers, and gantry's .CompressedSize.
// NO_TRUNC: the whole sha256 ID.
json images_row(const ImageListing& i, bool no_trunc);
const gotemplate::Listing& images_listing();

// What the filters see of a stored image (REFERENCE: the name it is listed under).
ImageFacts image_facts(const store::Image& img, const std::string& reference);

// docker's `inspect` of an image: Id, RepoTags, RepoDigests, Parent, Comment, Created, Author,
// Config (User, Env, Cmd, Entrypoint, WorkingDir, Labels, ExposedPorts, Volumes, StopSignal),
// Architecture, Os, Size, VirtualSize, RootFS.
// SIZE: the unpacked size (store::image_sizes), else the compressed one.
json inspect_image(const store::Image& img, std::uint64_t size);
// The same with the size looked up in STORE (recorded, or computed and recorded once).
json inspect_image(store::Store& store, const store::Image& img);

} // namespace gantry::docker_model
