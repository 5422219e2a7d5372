#include "store/single_layer_image.hpp"

#include "layer/single_layer_manifest.hpp"
#include "store/importer.hpp"
#include "util/error.hpp"

namespace gantry::store {

SingleLayerImage commit_single_layer_image(Store& store, const LayerWriter& out,
                                           const std::pair<oci::Digest, oci::Digest>& digests,
                                           nlohmann::json config, const std::string& what,
                                           const std::string& ref, bool privileged) {
    const auto& [blob, diff] = digests;
    Importer importer(store, ImportOptions{privileged, 1});
    LayerJob job{blob, diff, what, []() -> std::unique_ptr<layer::Reader> {
                     throw Error(Errc::internal, "the new layer blob vanished");
                 }};
    importer.layers({job});
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", {diff.str()}}};
    std::string text = config.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    oci::Manifest m = layer::single_layer_manifest(text, blob, out.blob_size(), false);
    SingleLayerImage res;
    store.put_blob(text, m.config.digest);
    res.config = m.config.digest;
    res.manifest = store.put_blob(m.to_json().dump());
    importer.tag({ref}, res.manifest);
    return res;
}

} // namespace gantry::store
