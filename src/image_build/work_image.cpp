#include "image_build/work_image.hpp"

#include "oci/image.hpp"
#include "util/error.hpp"

namespace gantry::image_build {

WorkImage WorkImage::scratch(const oci::Platform& platform) {
    WorkImage w;
    w.config = {{"architecture", platform.architecture},
                {"os", platform.os},
                {"config", nlohmann::json::object()},
                {"rootfs", {{"type", "layers"}, {"diff_ids", nlohmann::json::array()}}},
                {"history", nlohmann::json::array()}};
    if (!platform.variant.empty()) w.config["variant"] = platform.variant;
    return w;
}

WorkImage WorkImage::of(const store::Store& store, const store::Image& image) {
    WorkImage w;
    w.config = nlohmann::json::parse(store.read_blob(image.id()));
    const auto& diff_ids = image.config.diff_ids;
    if (diff_ids.size() != image.manifest.layers.size())
        throw Error(Errc::invalid, "image " + image.manifest_digest.str() + " lists " +
                                       std::to_string(image.manifest.layers.size()) +
                                       " layers but its config " + std::to_string(diff_ids.size()) +
                                       " diff IDs");
    for (std::size_t i = 0; i < diff_ids.size(); ++i) {
        const auto& d = image.manifest.layers[i];
        // the manifest commit() writes is OCI's: docker's layer types become their OCI names
        std::string type = d.media_type;
        if (type == oci::media::docker_layer_gzip) type = oci::media::oci_layer_gzip;
        if (type == oci::media::docker_layer) type = oci::media::oci_layer;
        w.layers.push_back({d.digest, diff_ids[i], d.size, type});
    }
    if (!w.config.contains("history") || !w.config["history"].is_array())
        w.config["history"] = nlohmann::json::array();
    w.config.erase("container_config"); // docker's builder state: not ours to carry on
    w.config.erase("container");
    return w;
}

nlohmann::json& WorkImage::run_config() {
    auto& c = config["config"];
    if (!c.is_object()) c = nlohmann::json::object();
    return c;
}

std::vector<oci::Digest> WorkImage::diff_ids() const {
    std::vector<oci::Digest> out;
    for (const auto& l : layers) out.push_back(l.diff_id);
    return out;
}

void WorkImage::add_layer(const WorkLayer& layer) {
    layers.push_back(layer);
    config["rootfs"]["type"] = "layers";
    config["rootfs"]["diff_ids"].push_back(layer.diff_id.str());
}

std::string WorkImage::config_text() const {
    return config.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
}

oci::Digest WorkImage::id() const {
    return oci::Digest::of(config_text());
}

oci::Digest WorkImage::commit(store::Store& store) const {
    std::string text = config_text();
    if (text.size() > kMaxConfigBytes)
        throw Error(Errc::invalid,
                    "the image config is " + std::to_string(text.size()) +
                        " bytes, more than the store accepts (" + std::to_string(kMaxConfigBytes) +
                        "); nothing was tagged",
                    "shorten what the Dockerfile puts in the environment, labels or history");
    oci::Manifest m;
    m.media_type = oci::media::oci_manifest;
    m.config.media_type = oci::media::oci_config;
    m.config.digest = oci::Digest::of(text);
    m.config.size = static_cast<std::int64_t>(text.size());
    for (const auto& l : layers) {
        oci::Descriptor d;
        d.media_type = l.media_type.empty() ? oci::media::oci_layer_gzip : l.media_type;
        d.digest = l.blob;
        d.size = l.size;
        m.layers.push_back(d);
    }
    store.put_blob(text, m.config.digest);
    return store.put_blob(m.to_json().dump());
}

nlohmann::json WorkImage::to_json() const {
    nlohmann::json ls = nlohmann::json::array();
    for (const auto& l : layers)
        ls.push_back({l.blob.str(), l.diff_id.str(), l.size, l.media_type});
    return {{"config", config}, {"layers", ls}};
}

WorkImage WorkImage::from_json(const nlohmann::json& j) {
    WorkImage img;
    img.config = j["config"];
    for (const auto& l : j["layers"])
        img.layers.push_back({oci::Digest::parse(l[0].get<std::string>()),
                              oci::Digest::parse(l[1].get<std::string>()), l[2].get<std::int64_t>(),
                              l[3].get<std::string>()});
    return img;
}

} // namespace gantry::image_build
