#include "sif/oci_sif.hpp"

#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/json.hpp"

#include <algorithm>

namespace gantry::sif {

namespace {

[[noreturn]] void oci_sif_refuse(const std::string& what, const std::string& why) {
    throw Error(Errc::invalid, what + " is not a usable OCI-SIF image: " + why,
                "check it with `siftool list " + what + "`, or pull or build it again");
}

// The bytes of object O, bounded and checked against DIGEST ("sha256:HEX") when one is given.
std::string oci_sif_bytes(const Object& o, const ReadAt& read, const std::string& digest,
                          const std::string& name, const std::string& what) {
    if (o.size > kMaxOciJson)
        oci_sif_refuse(what, name + " is over " + std::to_string(kMaxOciJson >> 20) + " MiB");
    std::string b(o.size, '\0');
    if (o.size) read(o.offset, b.data(), b.size());
    if (!digest.empty() && "sha256:" + Sha256::hex_of(b) != digest)
        oci_sif_refuse(what, name + "'s bytes do not match its digest " + digest);
    return b;
}

// The OCI.Blob object named DIGEST.
const Object& oci_sif_blob(const Container& c, const std::string& digest, const std::string& name,
                           const std::string& what) {
    for (auto& o : c.objects)
        if (o.type == static_cast<std::int32_t>(DataType::oci_blob) && o.digest == digest) return o;
    oci_sif_refuse(what, "it holds no blob " + digest + " (" + name + ")");
}

nlohmann::json oci_sif_json(const std::string& text, const std::string& name,
                            const std::string& what) {
    auto doc = safe_json::parse_or_discarded(text);
    if (doc.is_discarded() || !doc.is_object())
        oci_sif_refuse(what, name + " is not a JSON object");
    return doc;
}

// A descriptor's digest: "sha256:" and 64 lowercase hex digits.
std::string oci_sif_digest(const nlohmann::json& d, const std::string& name,
                           const std::string& what) {
    std::string v = d.is_object() && d.contains("digest") && d["digest"].is_string()
                        ? d["digest"].get<std::string>()
                        : "";
    bool ok = v.size() == 71 && v.starts_with("sha256:") &&
              std::all_of(v.begin() + 7, v.end(), [](char ch) {
                  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
              });
    if (!ok) oci_sif_refuse(what, name + " has no sha256 digest");
    return v;
}

} // namespace

bool is_oci_sif(const Container& c) {
    return std::any_of(c.objects.begin(), c.objects.end(), [](const Object& o) {
        return o.type == static_cast<std::int32_t>(DataType::oci_root_index);
    });
}

OciImage oci_image(const Container& c, const ReadAt& read, const std::string& host,
                   const std::string& what) {
    refuse_overlay(c, what);
    const Object* root = nullptr;
    for (auto& o : c.objects)
        if (o.type == static_cast<std::int32_t>(DataType::oci_root_index)) {
            if (root) oci_sif_refuse(what, "it has two OCI root indexes");
            root = &o;
        }
    if (!root) oci_sif_refuse(what, "it has no OCI root index");
    auto index = oci_sif_json(oci_sif_bytes(*root, read, "", "its root index", what),
                              "its root index", what);
    if (!index.contains("manifests") || !index["manifests"].is_array() ||
        index["manifests"].empty())
        oci_sif_refuse(what, "its root index lists no manifest");
    const nlohmann::json* pick = nullptr;
    std::vector<std::string> platforms;
    for (auto& m : index["manifests"]) {
        if (!m.is_object())
            oci_sif_refuse(what, "its root index lists a manifest that is not "
                                 "an object");
        auto p = m.value("platform", nlohmann::json::object());
        std::string arch = p.is_object() ? p.value("architecture", "") : "";
        if (arch.empty() && index["manifests"].size() == 1) arch = host;
        platforms.push_back(arch.empty() ? "unknown" : arch);
        if (arch == host && !pick) pick = &m;
    }
    if (!pick) {
        std::string list;
        for (auto& p : platforms) list += (list.empty() ? "" : ", ") + p;
        throw Error(Errc::unsupported,
                    what + " holds images for " + list + " only; this host is " + host,
                    "use an OCI-SIF built for " + host);
    }
    OciImage img;
    img.manifest_digest = oci_sif_digest(*pick, "its root index's manifest", what);
    auto manifest =
        oci_sif_json(oci_sif_bytes(oci_sif_blob(c, img.manifest_digest, "the manifest", what), read,
                                   img.manifest_digest, "its manifest", what),
                     "its manifest", what);
    if (!manifest.contains("layers") || !manifest["layers"].is_array() ||
        !manifest.contains("config"))
        oci_sif_refuse(what, "its manifest has no config or layers");
    const auto& layers = manifest["layers"];
    if (layers.size() != 1)
        throw Error(Errc::unsupported,
                    what + " is an OCI-SIF of " + std::to_string(layers.size()) +
                        " layers; gantry runs single-layer OCI-SIFs (SingularityCE's default)",
                    "squash it into one layer (`singularity build --oci` without "
                    "--keep-layers), or export the image and `gantry load` it");
    std::string media = layers[0].is_object() ? layers[0].value("mediaType", "") : "";
    if (media != kSquashfsLayer)
        throw Error(Errc::unsupported,
                    what + "'s layer is " + (media.empty() ? "of no media type" : media) +
                        ", not a squashfs (" + kSquashfsLayer + ")",
                    "rebuild it with SingularityCE 4 (`singularity build --oci`)");
    img.layer = oci_sif_blob(c, oci_sif_digest(layers[0], "its layer", what), "the layer", what);
    img.config_digest = oci_sif_digest(manifest["config"], "its manifest's config", what);
    img.config = oci_sif_bytes(oci_sif_blob(c, img.config_digest, "the config", what), read,
                               img.config_digest, "its config", what);
    oci_sif_json(img.config, "its config", what);
    return img;
}

} // namespace gantry::sif
