// store/single_layer_image: an image of the one layer a store::LayerWriter wrote, committed into
// the store as `gantry import` and `gantry load FILE.sqsh` make theirs: the layer unpacked
// through the Importer (verified against its digests, extracted safely, as any layer), the
// config with its rootfs set to that layer, the manifest, and the reference last.
#pragma once

#include "oci/digest.hpp"
#include "store/layer_writer.hpp"
#include "store/store.hpp"

#include <nlohmann/json.hpp>
#include <string>

namespace gantry::store {

struct SingleLayerImage {
    oci::Digest manifest, config;
};

// OUT, finished (LayerWriter::finish's DIGESTS: blob and diffID), as the image REF (normalised
// by the caller) whose config is CONFIG (its rootfs is set here); WHAT names the layer in errors.
// PRIVILEGED: real root, owners and devices kept when unpacking.
SingleLayerImage commit_single_layer_image(Store& store, const LayerWriter& out,
                                           const std::pair<oci::Digest, oci::Digest>& digests,
                                           nlohmann::json config, const std::string& what,
                                           const std::string& ref, bool privileged);

} // namespace gantry::store
