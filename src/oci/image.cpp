#include "oci/image.hpp"

#include "util/error.hpp"
#include "util/json.hpp"

#include <sys/utsname.h>

namespace gantry::oci {

namespace media {
bool is_index(std::string_view mt) {
    return mt == oci_index || mt == docker_list;
}
bool is_manifest(std::string_view mt) {
    return mt == oci_manifest || mt == docker_manifest;
}
} // namespace media

const char* to_string(Compression c) {
    switch (c) {
    case Compression::gzip:
        return "gzip";
    case Compression::zstd:
        return "zstd";
    default:
        return "none";
    }
}

Compression layer_compression(std::string_view mt) {
    if (mt == media::oci_layer || mt == media::docker_layer) return Compression::none;
    if (mt == media::oci_layer_gzip || mt == media::docker_layer_gzip) return Compression::gzip;
    if (mt == media::oci_layer_zstd) return Compression::zstd;
    if (mt == media::docker_foreign_layer || mt.find("nondistributable") != std::string_view::npos)
        throw Error(Errc::unsupported,
                    "foreign layer (" + std::string(mt) +
                        ") is not supported: its content lives outside the image",
                    "use an image built on a Linux base, or re-push it with the layer included "
                    "(skopeo copy --preserve-digests is not needed for that)");
    if (mt == "application/vnd.gantry.image.squashfs") // lazy/squashfs_artifact.hpp
        throw Error(Errc::unsupported,
                    "the image is gantry's squashfs artifact (push --format squashfs), not "
                    "layers to unpack",
                    "run it from the registry: gantry run --pull lazy IMAGE");
    throw Error(Errc::unsupported, "unknown layer media type \"" + std::string(mt) + "\"",
                "gantry reads OCI and Docker schema 2 tar layers (plain, gzip, zstd)");
}

Compression sniff_compression(const unsigned char* p, std::size_t n) {
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) return Compression::gzip;
    if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
        return Compression::zstd;
    return Compression::none;
}

json parse_json(std::string_view text, const std::string& what) {
    return safe_json::parse(text, what);
}

std::string declared_media_type(const json& doc) {
    if (doc.is_object() && doc.contains("mediaType") && doc["mediaType"].is_string())
        return doc["mediaType"].get<std::string>();
    return {};
}

namespace {

const json& require(const json& j, const char* key, json::value_t type, const std::string& where) {
    if (!j.is_object()) throw Error(Errc::invalid, where + " is not a JSON object");
    auto it = j.find(key);
    if (it == j.end()) throw Error(Errc::invalid, where + " has no \"" + key + "\" field");
    bool ok = it->type() == type || (type == json::value_t::number_integer &&
                                     it->type() == json::value_t::number_unsigned);
    if (!ok) throw Error(Errc::invalid, where + ": field \"" + key + "\" has the wrong type");
    return *it;
}

std::string opt_string(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    if (!it->is_string())
        throw Error(Errc::invalid, std::string("field \"") + key + "\" must be a string");
    return it->get<std::string>();
}

std::map<std::string, std::string> annotations_of(const json& j, const std::string& where) {
    std::map<std::string, std::string> out;
    auto it = j.find("annotations");
    if (it == j.end() || it->is_null()) return out;
    if (!it->is_object()) throw Error(Errc::invalid, where + ": \"annotations\" must be an object");
    for (auto& [k, v] : it->items()) {
        if (!v.is_string())
            throw Error(Errc::invalid, where + ": annotation \"" + k + "\" must be a string");
        out[k] = v.get<std::string>();
    }
    return out;
}

// The descriptors of the array J[KEY] (WHERE's), each named "ENTRY i" in errors.
std::vector<Descriptor> descriptors_of(const json& j, const char* key, const std::string& where,
                                       const std::string& entry) {
    const json& list = require(j, key, json::value_t::array, where);
    std::vector<Descriptor> out;
    for (size_t i = 0; i < list.size(); ++i)
        out.push_back(Descriptor::from_json(list[i], entry + " " + std::to_string(i)));
    return out;
}

// A manifest's or an index's document: schemaVersion 2, its media type, LIST under KEY, and
// annotations when there are any.
json document_json(const std::string& media_type, const char* key,
                   const std::vector<Descriptor>& list,
                   const std::map<std::string, std::string>& annotations) {
    json j;
    j["schemaVersion"] = 2;
    j["mediaType"] = media_type;
    j[key] = json::array();
    for (auto& d : list) j[key].push_back(d.to_json());
    if (!annotations.empty()) j["annotations"] = annotations;
    return j;
}

void refuse_schema1(const json& doc, std::string_view mt) {
    bool v1 = mt == media::docker_schema1 || mt == media::docker_schema1_signed;
    if (doc.is_object() && doc.contains("schemaVersion") && doc["schemaVersion"] == 1) v1 = true;
    if (v1)
        throw Error(Errc::unsupported,
                    "image uses a Docker schema 1 manifest, which is deprecated and not supported",
                    "convert it with `skopeo copy --format v2s2 SRC DST`, or rebuild and push it "
                    "with a current docker/podman");
}

// TEXT parsed as WHAT ("image manifest"): the document and its media type, the declared one or
// else HINT; a Docker schema 1 document is refused.
std::pair<json, std::string> parse_document(std::string_view text, std::string_view hint,
                                            const char* what) {
    json doc = parse_json(text, what);
    std::string mt = declared_media_type(doc);
    if (mt.empty()) mt = std::string(hint);
    refuse_schema1(doc, mt);
    return {std::move(doc), std::move(mt)};
}

// config.Labels maps strings to strings (docker and containerd refuse anything else when they
// decode a config); a nested value would only reach inspect and analyze as a surprise.
void check_labels(const json& doc) {
    auto cfg = doc.find("config");
    if (cfg == doc.end() || !cfg->is_object()) return;
    auto labels = cfg->find("Labels");
    if (labels == cfg->end() || labels->is_null()) return;
    const char* hint = "image labels map names to strings; rebuild the image with string values";
    if (!labels->is_object())
        throw Error(Errc::invalid,
                    std::string("image config: config.Labels must be an object of strings, not ") +
                        labels->type_name(),
                    hint);
    for (const auto& [k, v] : labels->items())
        if (!v.is_string())
            throw Error(Errc::invalid,
                        "image config: config.Labels[" +
                            json(k).dump(-1, ' ', false, json::error_handler_t::replace) +
                            "] must be a string, not " + v.type_name(),
                        hint);
}

} // namespace

Platform Platform::parse(std::string_view text) {
    Platform p;
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        auto slash = text.find('/', start);
        parts.emplace_back(text.substr(start, slash - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    for (auto& s : parts)
        if (s.empty())
            throw Error(Errc::usage, "invalid platform \"" + std::string(text) + "\"",
                        "use OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8");
    if (parts.size() == 1) {
        p.os = "linux";
        p.architecture = parts[0];
    } else if (parts.size() <= 3) {
        p.os = parts[0];
        p.architecture = parts[1];
        if (parts.size() == 3) p.variant = parts[2];
    } else {
        throw Error(Errc::usage, "invalid platform \"" + std::string(text) + "\"",
                    "use OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8");
    }
    if (p.architecture == "x86_64") p.architecture = "amd64";
    if (p.architecture == "aarch64") p.architecture = "arm64";
    return p;
}

Platform Platform::host() {
    struct utsname u {};
    ::uname(&u);
    std::string m = u.machine;
    Platform p;
    p.os = "linux";
    if (m == "x86_64")
        p.architecture = "amd64";
    else if (m == "aarch64")
        p.architecture = "arm64";
    else if (m == "ppc64le")
        p.architecture = "ppc64le";
    else if (m == "s390x")
        p.architecture = "s390x";
    else if (m == "riscv64")
        p.architecture = "riscv64";
    else if (m.starts_with("armv7")) {
        p.architecture = "arm";
        p.variant = "v7";
    } else
        p.architecture = m;
    return p;
}

Platform Platform::from_json(const json& j) {
    Platform p;
    p.os = opt_string(j, "os");
    p.architecture = opt_string(j, "architecture");
    p.variant = opt_string(j, "variant");
    p.os_version = opt_string(j, "os.version");
    return p;
}

bool Platform::accepts(const Platform& image) const {
    if (os != image.os || architecture != image.architecture) return false;
    if (variant.empty() || image.variant.empty()) return true;
    // arm64 images without a variant are v8; treat "v8" and "" as equal.
    return variant == image.variant;
}

std::string Platform::str() const {
    std::string s = os + "/" + architecture;
    if (!variant.empty()) s += "/" + variant;
    return s;
}

Descriptor Descriptor::from_json(const json& j, const std::string& where) {
    Descriptor d;
    d.media_type = opt_string(j, "mediaType");
    d.digest = Digest::parse(require(j, "digest", json::value_t::string, where).get<std::string>());
    d.size = require(j, "size", json::value_t::number_integer, where).get<std::int64_t>();
    if (d.size < 0) throw Error(Errc::invalid, where + ": negative size");
    d.annotations = annotations_of(j, where);
    if (auto it = j.find("platform"); it != j.end() && it->is_object())
        d.platform = Platform::from_json(*it);
    if (auto it = j.find("urls"); it != j.end() && it->is_array())
        for (auto& u : *it)
            if (u.is_string()) d.urls.push_back(u.get<std::string>());
    return d;
}

json Descriptor::to_json() const {
    json j;
    j["mediaType"] = media_type;
    j["digest"] = digest.str();
    j["size"] = size;
    if (!annotations.empty()) j["annotations"] = annotations;
    if (platform) {
        json p{{"os", platform->os}, {"architecture", platform->architecture}};
        if (!platform->variant.empty()) p["variant"] = platform->variant;
        if (!platform->os_version.empty()) p["os.version"] = platform->os_version;
        j["platform"] = p;
    }
    if (!urls.empty()) j["urls"] = urls;
    return j;
}

Manifest Manifest::parse(std::string_view text, std::string_view hint) {
    auto [doc, mt] = parse_document(text, hint, "image manifest");
    if (media::is_index(mt))
        throw Error(Errc::invalid, "expected an image manifest but found an index (" + mt + ")");
    if (mt.empty()) mt = media::oci_manifest; // OCI allows omitting mediaType
    if (!media::is_manifest(mt))
        throw Error(Errc::unsupported, "unknown manifest media type \"" + mt + "\"",
                    "gantry reads OCI image manifests and Docker schema 2 manifests");
    Manifest m;
    m.media_type = mt;
    m.config = Descriptor::from_json(require(doc, "config", json::value_t::object, "manifest"),
                                     "manifest config");
    m.layers = descriptors_of(doc, "layers", "manifest", "manifest layer");
    m.annotations = annotations_of(doc, "manifest");
    return m;
}

json Manifest::to_json() const {
    json j = document_json(media_type, "layers", layers, annotations);
    j["config"] = config.to_json();
    return j;
}

Index Index::parse(std::string_view text, std::string_view hint) {
    auto [doc, mt] = parse_document(text, hint, "image index");
    if (mt.empty()) mt = media::oci_index;
    if (!media::is_index(mt))
        throw Error(Errc::invalid, "expected an image index but found \"" + mt + "\"");
    Index idx;
    idx.media_type = mt;
    idx.manifests = descriptors_of(doc, "manifests", "index", "index entry");
    idx.annotations = annotations_of(doc, "index");
    return idx;
}

json Index::to_json() const {
    return document_json(media_type, "manifests", manifests, annotations);
}

ImageConfig ImageConfig::parse(std::string_view text) {
    return from_json(parse_json(text, "image config"));
}

ImageConfig ImageConfig::from_json(json doc) {
    ImageConfig c;
    c.raw = std::move(doc);
    if (!c.raw.is_object())
        throw Error(Errc::invalid, "image config is not a JSON object",
                    "the image is damaged; export or fetch it again");
    c.platform = Platform::from_json(c.raw);
    check_labels(c.raw);
    c.created = opt_string(c.raw, "created");
    const json& rootfs = require(c.raw, "rootfs", json::value_t::object, "image config");
    const json& ids = require(rootfs, "diff_ids", json::value_t::array, "image config rootfs");
    for (auto& d : ids) {
        if (!d.is_string()) throw Error(Errc::invalid, "image config: diff_ids must be strings");
        c.diff_ids.push_back(Digest::parse(d.get<std::string>()));
    }
    if (auto it = c.raw.find("history"); it != c.raw.end() && it->is_array()) {
        for (auto& h : *it) {
            if (!h.is_object()) continue;
            History e;
            e.created = opt_string(h, "created");
            e.created_by = opt_string(h, "created_by");
            e.comment = opt_string(h, "comment");
            if (auto el = h.find("empty_layer"); el != h.end() && el->is_boolean())
                e.empty_layer = el->get<bool>();
            c.history.push_back(std::move(e));
        }
    }
    return c;
}

json history_as_empty_layers(const json& config) {
    json out = json::array();
    if (config.contains("history") && config["history"].is_array())
        for (auto h : config["history"]) {
            if (!h.is_object()) continue;
            h["empty_layer"] = true;
            out.push_back(h);
        }
    return out;
}

} // namespace gantry::oci
