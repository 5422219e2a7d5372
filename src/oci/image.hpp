// OCI image-spec and Docker schema 2 types: media types, descriptors, platforms, manifests,
// indexes and image configs, parsed strictly from JSON with errors that name the field.
#pragma once

#include "oci/digest.hpp"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::oci {

using json = nlohmann::json;

namespace media {
inline constexpr const char* oci_layout_version = "1.0.0";
inline constexpr const char* oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* oci_config = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* oci_layer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* oci_layer_gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* oci_layer_zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr const char* docker_manifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* docker_list =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* docker_config = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* docker_layer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr const char* docker_layer_gzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr const char* docker_foreign_layer =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr const char* docker_schema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr const char* docker_schema1_signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

bool is_index(std::string_view mt);
bool is_manifest(std::string_view mt);
} // namespace media

enum class Compression { none, gzip, zstd };
const char* to_string(Compression c);

// Compression of a layer from its media type; throws Error(unsupported) for foreign,
// non-distributable and unknown layer media types.
Compression layer_compression(std::string_view media_type);

// Sniffs compression from the first bytes of a blob (gzip 1f 8b, zstd 28 b5 2f fd).
Compression sniff_compression(const unsigned char* p, std::size_t n);

struct Platform {
    std::string os;
    std::string architecture;
    std::string variant;
    std::string os_version;

    // "linux/amd64", "linux/arm64/v8", "arm64" (os defaults to linux). Throws Error(usage).
    static Platform parse(std::string_view text);
    static Platform host(); // os/arch (and arm variant) of this machine in OCI (GOARCH) names
    static Platform from_json(const json& j);
    // True when this platform can run an image made for `image` (variant compared when both set).
    bool accepts(const Platform& image) const;
    std::string str() const;
};

struct Descriptor {
    std::string media_type;
    Digest digest;
    std::int64_t size = 0;
    std::map<std::string, std::string> annotations;
    std::optional<Platform> platform;
    std::vector<std::string> urls;

    static Descriptor from_json(const json& j, const std::string& where);
    json to_json() const;
};

struct Manifest {
    std::string media_type; // from the document, or the descriptor that named it
    Descriptor config;
    std::vector<Descriptor> layers;
    std::map<std::string, std::string> annotations;

    // Parses an image manifest (OCI or Docker schema 2). Schema 1 is refused with the fix.
    static Manifest parse(std::string_view text, std::string_view media_type_hint = {});
    json to_json() const;
};

struct Index {
    std::string media_type;
    std::vector<Descriptor> manifests;
    std::map<std::string, std::string> annotations;

    static Index parse(std::string_view text, std::string_view media_type_hint = {});
    json to_json() const;
};

struct History {
    std::string created;
    std::string created_by;
    std::string comment;
    bool empty_layer = false;
};

struct ImageConfig {
    Platform platform;
    std::vector<Digest> diff_ids;
    std::vector<History> history;
    std::string created;
    json raw; // the whole document, for run-time settings (Env, Entrypoint, Cmd, ...)

    static ImageConfig parse(std::string_view text);
    static ImageConfig from_json(json doc); // the same, from a parsed document
};

// Parses untrusted JSON text through util/json (nesting bounded); throws Error(invalid,
// "<what> is not valid JSON: <detail>") or Error(invalid, "<what> nests deeper than ...").
json parse_json(std::string_view text, const std::string& what);

// A config's history entries kept for the record when its layers are squashed into one: each
// marked empty_layer (non-object entries dropped), for the new layer's entry to follow.
json history_as_empty_layers(const json& config);

// The media type a JSON document declares ("mediaType"), or "" if absent.
std::string declared_media_type(const json& doc);

} // namespace gantry::oci
