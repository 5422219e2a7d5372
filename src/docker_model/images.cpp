#include "docker_model/images.hpp"

#include "docker_model/words.hpp"
#include "oci/reference.hpp"
#include "util/error.hpp"
#include "util/units.hpp"

namespace gantry::docker_model {

json images_row(const ImageListing& i, bool no_trunc) {
    const auto& f = i.facts;
    std::string repository = "<none>", tag = "<none>";
    if (!f.reference.empty()) {
        try {
            auto r = oci::Reference::parse(f.reference);
            if (!r.tag.empty()) tag = r.tag;
            r.tag.clear();
            r.digest.clear();
            repository = r.familiar();
        } catch (const Error&) {
            repository = f.reference;
        }
    }
    std::string hex = f.id.substr(f.id.find(':') + 1);
    std::string size = docker_size(i.size);
    return {{"ID", no_trunc ? f.id : hex.substr(0, 12)},
            {"Repository", repository},
            {"Tag", tag},
            {"Digest", f.digest.empty() ? "<none>" : f.digest},
            {"CreatedSince", units::human_ago(f.created, "N/A")},
            {"CreatedAt", go_time(f.created)},
            {"Size", size},
            {"VirtualSize", size},
            {"SharedSize", "N/A"},
            {"UniqueSize", "N/A"},
            {"Containers", "N/A"},
            {"CompressedSize", i.compressed ? docker_size(i.compressed) : "N/A"}};
}

const gotemplate::Listing& images_listing() {
    static const gotemplate::Listing listing = [] {
        gotemplate::Listing l;
        l.data.what = "an image (images)";
        l.headers = {{"ID", "IMAGE ID"},
                     {"Repository", "REPOSITORY"},
                     {"Tag", "TAG"},
                     {"Digest", "DIGEST"},
                     {"CreatedSince", "CREATED"},
                     {"CreatedAt", "CREATED AT"},
                     {"Size", "SIZE"},
                     {"VirtualSize", "VIRTUAL SIZE"},
                     {"SharedSize", "SHARED SIZE"},
                     {"UniqueSize", "UNIQUE SIZE"},
                     {"Containers", "CONTAINERS"},
                     {"CompressedSize", "COMPRESSED SIZE"}};
        l.default_table = "{{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}";
        return l;
    }();
    return listing;
}

ImageFacts image_facts(const store::Image& img, const std::string& reference) {
    ImageFacts f;
    f.reference = reference;
    f.id = img.id().str();
    f.digest = img.manifest_digest.str();
    f.created = img.config.created;
    const auto& raw = img.config.raw;
    if (raw.contains("config") && raw["config"].is_object()) {
        auto l = raw["config"].find("Labels");
        if (l != raw["config"].end() && l->is_object())
            for (auto it = l->begin(); it != l->end(); ++it)
                if (it.value().is_string()) f.labels[it.key()] = it.value().get<std::string>();
    }
    return f;
}

json inspect_image(store::Store& store, const store::Image& img) {
    auto sizes = store::image_sizes(store, {img.manifest_digest});
    auto it = sizes.find(img.manifest_digest);
    json out =
        inspect_image(img, it != sizes.end() ? it->second.unpacked
                                             : static_cast<std::uint64_t>(img.compressed_size()));
    // a committed image's parent (image_build/container_commit.hpp), when it is still here:
    // the config's word alone could name anything
    const auto& raw = img.config.raw;
    if (auto p = raw.find("parent"); p != raw.end() && p->is_string()) try {
            auto parent = oci::Digest::parse(p->get<std::string>());
            auto found = store::find_image(store, parent.str());
            if (found.id() == parent) out["Parent"] = parent.str();
        } catch (const Error&) {
        }
    return out;
}

json inspect_image(const store::Image& img, std::uint64_t size) {
    const auto& raw = img.config.raw;
    json c = raw.contains("config") && raw["config"].is_object() ? raw["config"] : json::object();
    // the fields docker's Config always has, so that templates can name them
    for (auto [k, v] : {std::pair<const char*, json>{"User", ""},
                        {"Env", json::array()},
                        {"Cmd", nullptr},
                        {"Entrypoint", nullptr},
                        {"WorkingDir", ""},
                        {"Labels", json::object()},
                        {"ExposedPorts", json::object()},
                        {"Volumes", json::object()},
                        {"StopSignal", ""},
                        {"OnBuild", nullptr}})
        if (!c.contains(k) || (c[k].is_null() && v.is_object())) c[k] = v;
    json tags = json::array(), digests = json::array();
    for (auto& ref : img.refs) {
        try {
            auto r = oci::Reference::parse(ref);
            if (!r.tag.empty()) tags.push_back(r.familiar());
            digests.push_back(r.repository() + "@" + img.manifest_digest.str());
        } catch (const Error&) {
        }
    }
    json layers = json::array();
    for (auto& d : img.config.diff_ids) layers.push_back(d.str());
    // docker's fields of a committed image (its config's container, container_config, comment)
    auto str_field = [&raw](const char* key) {
        auto f = raw.find(key);
        return f != raw.end() && f->is_string() ? f->get<std::string>() : std::string();
    };
    json container_config = raw.contains("container_config") && raw["container_config"].is_object()
                                ? raw["container_config"]
                                : json::object();
    const auto& p = img.config.platform;
    json out{{"Id", img.id().str()},
             {"RepoTags", tags},
             {"RepoDigests", digests},
             {"Parent", ""},
             {"Comment", str_field("comment")},
             {"Container", str_field("container")},
             {"ContainerConfig", container_config},
             {"Created", img.config.created},
             {"Author", raw.value("author", "")},
             {"Config", c},
             {"Architecture", p.architecture},
             {"Os", p.os},
             {"Size", size},
             {"VirtualSize", size},
             {"RootFS", {{"Type", "layers"}, {"Layers", layers}}},
             {"Metadata", {{"LastTagTime", "0001-01-01T00:00:00Z"}}}};
    if (!p.variant.empty()) out["Variant"] = p.variant;
    return out;
}

} // namespace gantry::docker_model
