#include "lazy/convert.hpp"

#include "lazy/writer.hpp"
#include "lazy/zstd_chunked_writer.hpp"
#include "store/layer_tar.hpp"
#include "util/error.hpp"

#include <fcntl.h>
#include <nlohmann/json.hpp>

namespace gantry::lazy {

oci::Digest convert_layers(store::Store& store, const oci::Digest& manifest_digest,
                           const LayerWriter& write) {
    auto manifest = oci::Manifest::parse(store.read_blob(manifest_digest));
    auto config = nlohmann::json::parse(store.read_blob(manifest.config.digest), nullptr, false);
    if (!config.is_object() || !config.contains("rootfs"))
        throw Error(Errc::invalid,
                    "the image config " + manifest.config.digest.str() + " has no rootfs");
    auto diff_ids = nlohmann::json::array();
    oci::Manifest out;
    out.media_type = oci::media::oci_manifest;
    out.annotations = manifest.annotations;
    auto config_diff_ids = config["rootfs"].value("diff_ids", nlohmann::json::array());
    for (std::size_t i = 0; i < manifest.layers.size(); ++i) {
        const auto& l = manifest.layers[i];
        std::string what = "layer " + l.digest.str();
        Fd in(::open(store.blob_path(l.digest).c_str(), O_RDONLY | O_CLOEXEC));
        // a layer the store keeps unpacked (store/layer_tar.hpp): its rebuilt tar
        if (!in && errno == ENOENT && i < config_diff_ids.size() &&
            config_diff_ids[i].is_string()) {
            auto diff = oci::Digest::parse(config_diff_ids[i].get<std::string>());
            if (store::has_tar_split(store, diff)) in = store::rebuilt_file(store, diff, what);
        }
        if (!in)
            throw_errno(what + " is not in the store",
                        "pull the image again (its compressed layers are needed to convert it)");
        auto pending = store.begin_blob();
        ConvertedLayer c = write(in.get(), pending.fd(), what);
        pending.commit(c.descriptor.digest);
        out.layers.push_back(std::move(c.descriptor));
        diff_ids.push_back(c.diff_id.str());
    }
    config["rootfs"]["diff_ids"] = diff_ids;
    std::string ctext = config.dump();
    out.config.media_type = oci::media::oci_config;
    out.config.digest = store.put_blob(ctext);
    out.config.size = static_cast<std::int64_t>(ctext.size());
    return store.put_blob(out.to_json().dump());
}

Compression parse_compression(const std::string& text, const std::string& flag) {
    if (text == "estargz") return Compression::estargz;
    if (text == "zstd:chunked") return Compression::zstd_chunked;
    throw Error(Errc::usage, flag + " " + text + " is not supported",
                "use " + flag + " estargz or zstd:chunked, or no --compression");
}

const char* name_of(Compression c) {
    return c == Compression::estargz ? "estargz" : "zstd:chunked";
}

oci::Digest convert_to(store::Store& store, const oci::Digest& manifest, Compression c) {
    return c == Compression::estargz ? convert_image(store, manifest)
                                     : zstd_chunked::convert_image(store, manifest);
}

} // namespace gantry::lazy
