// An image's sizes (store.hpp's ImageSize): from its manifest, its config and its layers'
// meta.json, which the importer wrote when it unpacked them; no tree is walked.
#include "oci/image.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <algorithm>

namespace gantry::store {

std::optional<ImageSize> compute_image_size(const Store& store, const Digest& manifest) {
    try {
        auto m = oci::Manifest::parse(store.read_blob(manifest));
        auto c = oci::ImageConfig::parse(store.read_blob(m.config.digest));
        ImageSize s;
        s.compressed = static_cast<std::uint64_t>(std::max<std::int64_t>(m.config.size, 0));
        for (auto& l : m.layers)
            s.compressed += static_cast<std::uint64_t>(std::max<std::int64_t>(l.size, 0));
        for (auto& d : c.diff_ids) {
            auto meta = oci::parse_json(fs::read_file(store.layer_dir(d) / "meta.json", 1u << 20),
                                        "layer metadata");
            if (!meta.is_object()) return std::nullopt;
            auto bytes = meta.find("content_bytes");
            if (bytes == meta.end()) bytes = meta.find("size"); // unpacked before it was recorded
            if (bytes == meta.end() || !bytes->is_number_unsigned()) return std::nullopt;
            s.unpacked += bytes->get<std::uint64_t>();
        }
        return s;
    } catch (const Error&) { // a blob or a layer tree not here (fsck's business)
        return std::nullopt;
    } catch (const oci::json::exception&) {
        return std::nullopt;
    }
}

} // namespace gantry::store
