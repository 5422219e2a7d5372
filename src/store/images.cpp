#include "store/images.hpp"

#include "oci/reference.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <set>

namespace gantry::store {

std::int64_t Image::compressed_size() const {
    std::int64_t s = manifest.config.size;
    for (auto& l : manifest.layers) s += l.size;
    return s;
}

SizeMap image_sizes(Store& store, const std::set<Digest>& manifests) {
    SizeMap all = store.recorded_sizes(), out;
    bool missing = false;
    for (auto& d : manifests) {
        if (auto it = all.find(d); it != all.end())
            out[d] = it->second;
        else if (auto s = compute_image_size(store, d)) {
            out[d] = *s;
            missing = true;
        }
    }
    if (missing) {
        try { // records them: update_refs computes what refs.json lacks
            store.update_refs([](RefMap&) {});
        } catch (const Error& e) {
            log::debug("image sizes not recorded: " + e.message());
        }
    }
    return out;
}

std::string normalize(const std::string& ref) {
    return oci::Reference::parse(ref).str();
}

namespace {

Digest resolve_in(const Store& store, const RefMap& refs, const std::string& text) {
    std::string id = text;
    if (id.starts_with("sha256:")) id = id.substr(7);
    bool hexlike = id.size() >= 4 && id.size() <= 64 &&
                   id.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!hexlike || text.find('/') != std::string::npos) {
        oci::Reference r;
        try {
            r = oci::Reference::parse(text);
        } catch (const Error&) {
            if (!hexlike) throw;
        }
        if (!r.path.empty()) {
            if (auto it = refs.find(r.str()); it != refs.end()) return it->second;
            if (!r.digest.empty()) {
                Digest d = Digest::parse(r.digest);
                for (auto& [k, v] : refs)
                    if (v == d && k.starts_with(r.repository() + ":")) return d;
            }
            if (!hexlike)
                throw Error(Errc::not_found, "image " + r.str() + " is not in the store",
                            "load it with `gantry load FILE` or pull it; `gantry images` lists "
                            "what is there");
        }
    }
    std::set<Digest> matches;
    for (auto& [k, v] : refs) {
        if (v.hex().starts_with(id)) matches.insert(v);
        try {
            auto m = oci::Manifest::parse(store.read_blob(v));
            if (m.config.digest.hex().starts_with(id)) matches.insert(v);
        } catch (const Error&) {
        }
    }
    if (matches.size() == 1) return *matches.begin();
    if (matches.empty())
        throw Error(Errc::not_found, "no image matches \"" + text + "\"",
                    "`gantry images` lists the images in the store");
    throw Error(Errc::conflict, "image ID prefix \"" + text + "\" matches several images",
                "give more digits of the ID");
}

Image read_in(const Store& store, const RefMap& refs, const Digest& manifest) {
    Image img;
    img.manifest_digest = manifest;
    img.manifest = oci::Manifest::parse(store.read_blob(manifest));
    img.config = oci::ImageConfig::parse(store.read_blob(img.manifest.config.digest));
    for (auto& [k, v] : refs)
        if (v == manifest) img.refs.push_back(k);
    return img;
}

} // namespace

std::vector<HistoryLine> history(const Image& img) {
    std::vector<HistoryLine> lines;
    std::size_t layer = 0;
    const auto& layers = img.manifest.layers;
    const auto& diffs = img.config.diff_ids;
    auto next_layer = [&](HistoryLine& line) {
        if (layer >= layers.size() || layer >= diffs.size()) return;
        line.diff_id = diffs[layer];
        line.size = layers[layer].size;
        ++layer;
    };
    for (auto& h : img.config.history) {
        HistoryLine line{h, std::nullopt, 0};
        if (!h.empty_layer) next_layer(line);
        lines.push_back(std::move(line));
    }
    while (layer < layers.size() && layer < diffs.size()) {
        HistoryLine line;
        next_layer(line);
        lines.push_back(std::move(line));
    }
    std::reverse(lines.begin(), lines.end());
    return lines;
}

Digest resolve(const Store& store, const std::string& text) {
    return resolve_in(store, store.refs(), text);
}

Image read_image(const Store& store, const Digest& manifest) {
    return read_in(store, store.refs(), manifest);
}

Image find_image(const Store& store, const std::string& text) {
    RefMap refs = store.refs();
    return read_in(store, refs, resolve_in(store, refs, text));
}

Removal remove_image(Store& store, const std::string& arg, bool force) {
    std::string as_ref;
    try {
        auto r = oci::Reference::parse(arg);
        if (store.refs().count(r.str())) as_ref = r.str();
    } catch (const Error&) {
    }
    Digest md = as_ref.empty() ? resolve(store, arg) : store.refs().at(as_ref);
    for (auto& [holder, d] : store.holds())
        if (d == md && !force)
            throw Error(Errc::conflict, "image " + arg + " is used by container " + holder,
                        "remove the container first (`gantry rm " + holder + "`), or use --force");
    if (!force && store.images_in_use().count(md))
        throw Error(Errc::conflict, "image " + arg + " is used by a running container",
                    "wait for it to exit (`gantry ps` lists named ones), or use --force");
    std::vector<std::string> names;
    for (auto& [k, v] : store.refs())
        if (v == md) names.push_back(k);
    if (as_ref.empty() && names.size() > 1 && !force)
        throw Error(Errc::conflict,
                    "image " + arg + " is referenced by " + std::to_string(names.size()) +
                        " names (" + names[0] + ", " + names[1] +
                        (names.size() > 2 ? ", ..." : "") + ")",
                    "remove the names one by one, or use --force to remove them all");
    Removal out;
    out.untagged = as_ref.empty() ? names : std::vector<std::string>{as_ref};
    bool last = false;
    store.update_refs([&](RefMap& m) {
        for (auto& n : out.untagged) m.erase(n);
        last = true;
        for (auto& [k, v] : m)
            if (v == md) last = false;
    });
    if (last) out.deleted = md;
    return out;
}

} // namespace gantry::store
