#include "store/platforms.hpp"

#include "store/images.hpp"
#include "util/error.hpp"

#include <algorithm>

namespace gantry::store {

namespace {

struct Member {
    oci::Platform platform;
    oci::Descriptor descriptor;
};

Member member(const Store& store, const Digest& manifest) {
    std::string text = store.read_blob(manifest);
    auto m = oci::Manifest::parse(text);
    auto config = oci::ImageConfig::parse(store.read_blob(m.config.digest));
    oci::Descriptor d;
    d.media_type = m.media_type.empty() ? oci::media::oci_manifest : m.media_type;
    d.digest = manifest;
    d.size = static_cast<std::int64_t>(text.size());
    d.platform = config.platform;
    return {config.platform, std::move(d)};
}

std::vector<Member> members_of(const Store& store, const std::vector<Digest>& manifests) {
    std::vector<Member> out;
    for (auto& md : manifests) {
        Member m = member(store, md);
        for (auto& o : out)
            if (o.platform.str() == m.platform.str() && o.descriptor.digest != md)
                throw Error(Errc::invalid,
                            "images " + o.descriptor.digest.str() + " and " + md.str() +
                                " are both for " + m.platform.str() +
                                ": a name holds one image per platform",
                            "name one of them otherwise (`gantry tag`)");
        if (std::none_of(out.begin(), out.end(),
                         [&](const Member& o) { return o.descriptor.digest == md; }))
            out.push_back(std::move(m));
    }
    std::sort(out.begin(), out.end(),
              [](const Member& a, const Member& b) { return a.platform.str() < b.platform.str(); });
    return out;
}

std::string text_of(const std::vector<Member>& members) {
    oci::Index idx;
    idx.media_type = oci::media::oci_index;
    for (auto& m : members) idx.manifests.push_back(m.descriptor);
    return idx.to_json().dump();
}

// The name's default image among MEMBERS: the host's platform's, else PREFERRED's, else the
// first.
Digest default_of(const std::vector<Member>& members, const std::optional<Digest>& preferred) {
    auto host = oci::Platform::host();
    for (auto& m : members)
        if (host.accepts(m.platform)) return m.descriptor.digest;
    if (preferred) return *preferred;
    return members.front().descriptor.digest;
}

std::vector<Digest> held(const Store& store, const RefMap& refs, const IndexMap& indexes,
                         const std::string& name) {
    auto r = refs.find(name);
    if (r == refs.end()) return {};
    if (auto i = indexes.find(name); i != indexes.end()) {
        std::vector<Digest> out;
        for (auto& d : oci::Index::parse(store.read_blob(i->second)).manifests)
            out.push_back(d.digest);
        return out;
    }
    return {r->second};
}

// Names NAME with MEMBERS (not empty) in M and IDX; the index blob written when several.
void name_with(Store& store, RefMap& m, IndexMap& idx, const std::string& name,
               const std::vector<Member>& members, const std::optional<Digest>& preferred) {
    m[name] = default_of(members, preferred);
    if (members.size() == 1)
        idx.erase(name);
    else
        idx[name] = store.put_blob(text_of(members));
}

} // namespace

oci::Platform image_platform(const Store& store, const Digest& manifest) {
    return member(store, manifest).platform;
}

std::vector<PlatformImage> name_images(const Store& store, const std::string& name) {
    auto names = store.names();
    std::vector<PlatformImage> out;
    auto i = names.indexes.find(name);
    if (i != names.indexes.end() && names.refs.count(name)) {
        for (auto& d : oci::Index::parse(store.read_blob(i->second)).manifests)
            out.push_back({d.platform ? *d.platform : image_platform(store, d.digest), d.digest});
        return out;
    }
    if (auto r = names.refs.find(name); r != names.refs.end())
        out.push_back({image_platform(store, r->second), r->second});
    return out;
}

std::optional<Digest> name_image_for(const Store& store, const std::string& name,
                                     const oci::Platform& want) {
    for (auto& p : name_images(store, name))
        if (want.accepts(p.platform)) return p.manifest;
    return std::nullopt;
}

Digest resolve_platform(const Store& store, const std::string& ref_or_id,
                        const oci::Platform& want) {
    std::string name;
    try {
        auto r = oci::Reference::parse(ref_or_id);
        if (store.refs().count(r.str())) name = r.str();
    } catch (const Error&) {
    }
    std::vector<PlatformImage> images;
    if (!name.empty()) {
        images = name_images(store, name);
    } else {
        Digest md = resolve(store, ref_or_id);
        images.push_back({image_platform(store, md), md});
    }
    std::string have;
    for (auto& p : images) {
        if (want.accepts(p.platform)) return p.manifest;
        have += (have.empty() ? "" : ", ") + p.platform.str();
    }
    throw Error(Errc::not_found,
                "image " + ref_or_id + " holds no image for " + want.str() + " (it holds " + have +
                    ")",
                name.empty() ? "name one of its platforms with --platform"
                             : "`gantry pull --platform " + want.str() + " " + ref_or_id +
                                   "` adds it, or name one of its platforms with --platform");
}

void add_image(Store& store, const std::string& name, const Digest& manifest) {
    store.update_names([&](RefMap& m, IndexMap& idx) {
        Member added = member(store, manifest);
        std::vector<Digest> keep;
        for (auto& d : held(store, m, idx, name))
            if (d != manifest && image_platform(store, d).str() != added.platform.str())
                keep.push_back(d);
        keep.push_back(manifest);
        name_with(store, m, idx, name, members_of(store, keep), manifest);
    });
}

void set_images(Store& store, const std::string& name, const std::vector<Digest>& manifests) {
    if (manifests.empty()) throw Error(Errc::invalid, "no image to name " + name);
    auto members = members_of(store, manifests); // checked before the lock
    store.update_names([&](RefMap& m, IndexMap& idx) {
        name_with(store, m, idx, name, members, manifests.front());
    });
}

Digest remove_platform(Store& store, const std::string& name, const oci::Platform& platform) {
    Digest removed;
    store.update_names([&](RefMap& m, IndexMap& idx) {
        auto members = members_of(store, held(store, m, idx, name));
        if (members.empty())
            throw Error(Errc::not_found, "image " + name + " is not in the store",
                        "`gantry images` lists what is there");
        auto it = std::find_if(members.begin(), members.end(),
                               [&](const Member& x) { return platform.accepts(x.platform); });
        if (it == members.end()) {
            std::string have;
            for (auto& x : members) have += (have.empty() ? "" : ", ") + x.platform.str();
            throw Error(Errc::not_found,
                        "image " + name + " holds no image for " + platform.str() + " (it holds " +
                            have + ")",
                        "name one of its platforms with --platform");
        }
        removed = it->descriptor.digest;
        members.erase(it);
        if (members.empty()) {
            m.erase(name);
            idx.erase(name);
        } else {
            name_with(store, m, idx, name, members, std::nullopt);
        }
    });
    return removed;
}

std::string index_text(const Store& store, const std::vector<Digest>& manifests) {
    return text_of(members_of(store, manifests));
}

} // namespace gantry::store
