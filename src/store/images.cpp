#include "store/images.hpp"

#include "oci/reference.hpp"
#include "store/platforms.hpp"
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
                for (auto& [k, v] : refs) // a platform a name of the repository holds
                    if (k.starts_with(r.repository() + ":"))
                        for (auto& p : name_images(store, k))
                            if (p.manifest == d) return d;
            }
            if (!hexlike)
                throw Error(Errc::not_found, "image " + r.str() + " is not in the store",
                            "load it with `gantry load FILE` or pull it; `gantry images` lists "
                            "what is there");
        }
    }
    std::set<Digest> matches;
    std::set<Digest> images; // every image named: the names' defaults and their platforms'
    for (auto& [k, v] : refs) images.insert(v);
    for (auto& v : store.untagged()) images.insert(v);
    for (auto& [k, index] : store.indexes()) try {
            for (auto& d : oci::Index::parse(store.read_blob(index)).manifests)
                images.insert(d.digest);
        } catch (const Error&) { // fsck reports it
        }
    for (auto& v : images) {
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
    for (auto& [k, index] : store.indexes()) { // the names holding it beside their default
        if (!refs.count(k) || refs.at(k) == manifest) continue;
        try {
            for (auto& d : oci::Index::parse(store.read_blob(index)).manifests)
                if (d.digest == manifest) img.refs.push_back(k);
        } catch (const Error&) { // fsck reports it
        }
    }
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

Removal remove_image(Store& store, const std::string& arg, bool force,
                     const std::optional<oci::Platform>& platform) {
    std::string as_ref;
    try {
        auto r = oci::Reference::parse(arg);
        if (store.refs().count(r.str())) as_ref = r.str();
    } catch (const Error&) {
    }
    if (platform && as_ref.empty())
        throw Error(Errc::usage, "rmi --platform removes a platform of a name, not of an ID",
                    "give the image's name (`gantry images` lists them)");
    // the images the removal takes from the name: every platform it holds, or the one asked
    std::vector<Digest> taken;
    if (as_ref.empty())
        taken.push_back(resolve(store, arg));
    else if (platform) {
        auto md = name_image_for(store, as_ref, *platform);
        if (!md) { // remove_platform's error, naming what the name holds
            remove_platform(store, as_ref, *platform);
            return {};
        }
        taken.push_back(*md);
    } else
        for (auto& p : name_images(store, as_ref)) taken.push_back(p.manifest);
    // a name removed from an image another name keeps only untags it: a container of the image
    // is no reason to refuse (docker's rule); the image's last name is
    auto named_elsewhere = [&store, &as_ref](const Digest& md) {
        if (as_ref.empty()) return false;
        for (auto& [k, v] : store.refs()) {
            if (k == as_ref) continue;
            for (auto& h : name_images(store, k))
                if (h.manifest == md) return true;
        }
        return false;
    };
    auto holds = store.holds();
    auto in_use = store.images_in_use();
    for (auto& md : taken) {
        if (named_elsewhere(md)) continue;
        for (auto& [holder, d] : holds)
            if (d == md && !force)
                throw Error(Errc::conflict, "image " + arg + " is used by container " + holder,
                            "remove the container first (`gantry rm " + holder +
                                "`), or use --force");
        if (!force && in_use.count(md))
            throw Error(Errc::conflict, "image " + arg + " is used by a running container",
                        "wait for it to exit (`gantry ps` lists named ones), or use --force");
    }
    // by ID: the names holding the image, as their default or as one of their platforms
    std::vector<std::string> names, shared; // shared: names holding other platforms beside it
    if (as_ref.empty())
        for (auto& [k, v] : store.refs()) {
            auto held = name_images(store, k);
            for (auto& h : held)
                if (h.manifest == taken.front()) (held.size() > 1 ? shared : names).push_back(k);
        }
    std::size_t holders = names.size() + shared.size();
    if (holders > 1 && !force) {
        std::vector<std::string> all = names;
        all.insert(all.end(), shared.begin(), shared.end());
        throw Error(Errc::conflict,
                    "image " + arg + " is referenced by " + std::to_string(holders) + " names (" +
                        all[0] + ", " + all[1] + (holders > 2 ? ", ..." : "") + ")",
                    "remove the names one by one, or use --force to remove them all");
    }
    Removal out;
    if (as_ref.empty()) { // a name of that image alone goes; a name of several loses it
        auto p = image_platform(store, taken.front());
        for (auto& k : shared) {
            remove_platform(store, k, p);
            out.untagged.push_back(k + " (" + p.str() + ")");
        }
        store.update_refs([&](RefMap& m) {
            for (auto& n : names) m.erase(n);
        });
        store.update_untagged([&](std::set<Digest>& u) { u.erase(taken.front()); });
        out.untagged.insert(out.untagged.end(), names.begin(), names.end());
    } else if (platform) {
        remove_platform(store, as_ref, *platform);
        out.untagged = {as_ref + " (" + platform->str() + ")"};
    } else {
        out.untagged = {as_ref};
        store.update_refs([&](RefMap& m) { m.erase(as_ref); }); // its index goes with it
    }
    std::set<Digest> still; // what the names left hold
    for (auto& [k, v] : store.refs())
        for (auto& p : name_images(store, k)) still.insert(p.manifest);
    for (auto& md : taken)
        if (!still.count(md)) out.deleted.push_back(md);
    return out;
}

void tag(Store& store, const std::string& source, const std::string& target) {
    std::string dst = normalize(target);
    try { // a name: every platform it holds
        auto r = oci::Reference::parse(source);
        if (store.refs().count(r.str())) {
            std::vector<Digest> all;
            for (auto& p : name_images(store, r.str())) all.push_back(p.manifest);
            set_images(store, dst, all);
            return;
        }
    } catch (const Error& e) {
        if (e.code() != Errc::usage && e.code() != Errc::invalid) throw;
    }
    Digest md = resolve(store, source);
    store.update_refs([&](RefMap& m) { m[dst] = md; });
}

} // namespace gantry::store
