// Images in the store: resolving what a user typed (name, name:tag, name@digest, image ID
// prefix) to a manifest, reading an image's manifest and config, and listing images.
#pragma once

#include "oci/image.hpp"
#include "store/store.hpp"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace gantry::store {

struct Image {
    Digest manifest_digest;
    oci::Manifest manifest;
    oci::ImageConfig config;
    std::vector<std::string> refs; // every name holding it (as its default or one platform)
    Digest id() const { return manifest.config.digest; }
    std::int64_t compressed_size() const; // sum of layer blob sizes + config
};

// The sizes of these images: recorded in refs.json when they were named; an image named before
// sizes were recorded gets its sizes computed (compute_image_size) and recorded now, once (the
// same atomic, durable update of refs.json; a store this user may not write is only read). An
// image whose layers are not all unpacked has none (callers show its compressed size).
SizeMap image_sizes(Store& store, const std::set<Digest>& manifests);

// Resolves a user-given image reference; Error(not_found) with a hint when nothing matches and
// Error(conflict) when an ID prefix matches several images.
Digest resolve(const Store& store, const std::string& ref_or_id);
Image read_image(const Store& store, const Digest& manifest);
// Both from one snapshot of the references (refs.json is read once).
Image find_image(const Store& store, const std::string& ref_or_id);

// One line of an image's history as `gantry history` shows it: a history entry of its config,
// the layer the entry made (none for an empty_layer entry) and that layer blob's size.
struct HistoryLine {
    oci::History entry;
    std::optional<Digest> diff_id;
    std::int64_t size = 0;
};
// IMG's history newest first, as docker's: each entry that made a layer matched with the next
// layer in order; layers no entry accounts for (a config without history) get an entry of
// their own, with nothing known but the layer.
std::vector<HistoryLine> history(const Image& img);

// What removing an image name did (`gantry rmi`, the Engine API's DELETE /images/NAME).
struct Removal {
    std::vector<std::string> untagged; // the names removed ("NAME (PLATFORM)" for one platform)
    std::vector<Digest> deleted;       // the images no name holds any more
};
// Removes the name ARG (every platform it holds, or PLATFORM's only: store/platforms.hpp) or,
// given an ID, every name of that image: Error(conflict) when a container holds or runs an
// image removed, or an ID names an image of several names, unless FORCE. The content of
// REMOVAL.deleted is then the caller's to collect (store/gc.hpp's collect()).
Removal remove_image(Store& store, const std::string& arg, bool force,
                     const std::optional<oci::Platform>& platform = std::nullopt);

// Gives TARGET the image SOURCE (a name or an ID) is: every platform a name holds.
void tag(Store& store, const std::string& source, const std::string& target);

// Normalised reference string for user input ("busybox" -> "docker.io/library/busybox:latest").
std::string normalize(const std::string& ref);

} // namespace gantry::store
