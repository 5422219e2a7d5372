#include "layer/single_layer_manifest.hpp"

namespace gantry::layer {

oci::Manifest single_layer_manifest(const std::string& config_text, const oci::Digest& blob,
                                    std::uint64_t size, bool docker) {
    oci::Manifest m;
    m.media_type = docker ? oci::media::docker_manifest : oci::media::oci_manifest;
    m.config.media_type = docker ? oci::media::docker_config : oci::media::oci_config;
    m.config.digest = oci::Digest::of(config_text);
    m.config.size = static_cast<std::int64_t>(config_text.size());
    oci::Descriptor ld;
    ld.media_type = docker ? oci::media::docker_layer_gzip : oci::media::oci_layer_gzip;
    ld.digest = blob;
    ld.size = static_cast<std::int64_t>(size);
    m.layers.push_back(ld);
    return m;
}

} // namespace gantry::layer
