// store/platforms: the images of several platforms one name holds. A name that holds more than
// one image has an index (Store::IndexMap): an OCI image index blob listing them, one per
// platform, sorted by platform, written by gantry (a pulled index is not kept as the name's:
// it lists platforms the store may not hold, so it could not be pushed or saved whole). The
// name's reference (Store::refs) is its default image: the host's platform's when held.
//
// What changes a name: a pull adds its platform's image, replacing the one of that platform it
// held (add_image); a build, a load or a tag sets all of it (set_images); `rmi --platform`
// removes one platform (remove_platform).
#pragma once

#include "oci/image.hpp"
#include "store/store.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gantry::store {

struct PlatformImage {
    oci::Platform platform; // from the image's config
    Digest manifest;
};

// The platform an image of the store says it is for (its config's os/architecture/variant).
oci::Platform image_platform(const Store& store, const Digest& manifest);

// The images NAME (a normalised reference) holds: its index's, or its one image; empty when
// the store has no such name.
std::vector<PlatformImage> name_images(const Store& store, const std::string& name);

// The image of NAME the platform WANT runs (Platform::accepts), or nullopt.
std::optional<Digest> name_image_for(const Store& store, const std::string& name,
                                     const oci::Platform& want);

// What REF (a name or an image ID, as the user typed it) is for WANT: a name's image of that
// platform (Platform::accepts), an ID's image when it is of that platform (`inspect --platform`,
// `save --platform`, docker 28's). Error(not_found) naming the platforms REF holds and the pull
// that adds WANT's; resolve()'s errors for a REF that is nothing in the store.
Digest resolve_platform(const Store& store, const std::string& ref_or_id,
                        const oci::Platform& want);

// Adds MANIFEST (in the store with all it names) to NAME, in place of the image of its
// platform NAME held; the name's other platforms stay.
void add_image(Store& store, const std::string& name, const Digest& manifest);

// Makes NAME hold exactly MANIFESTS, one per platform (Error(invalid) naming the platform
// given twice); one manifest makes a name without an index.
void set_images(Store& store, const std::string& name, const std::vector<Digest>& manifests);

// Removes the image of PLATFORM from NAME and returns it; the last one removes the name.
// Error(not_found) naming the platforms NAME holds when it has none of PLATFORM.
Digest remove_platform(Store& store, const std::string& name, const oci::Platform& platform);

// The OCI index of MANIFESTS as gantry writes it (sorted by platform, each entry with its
// platform, media type and size): what a name's index blob holds, `push` and `save` write.
std::string index_text(const Store& store, const std::vector<Digest>& manifests);

} // namespace gantry::store
