#include "image_list/image_list.hpp"

#include "docker_model/images.hpp"
#include "lazy/store_layers.hpp"
#include "sqsh/cache.hpp"
#include "store/platforms.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <set>
#include <sys/stat.h>

namespace gantry::image_list {

Listing list(store::Store& store, const std::vector<std::string>& image_stores,
             const std::vector<std::string>& filters) {
    Listing out;
    // every local image's facts first: the filters' before/since name any of them
    std::vector<Entry> locals;
    std::vector<docker_model::ImageFacts> facts;
    for (auto& [ref, md] : store.refs()) {
        std::vector<oci::Digest> images{md}; // a name holding several platforms: one entry each
        try {
            if (store.indexes().count(ref)) {
                images.clear();
                for (auto& p : store::name_images(store, ref)) images.push_back(p.manifest);
            }
        } catch (const Error& err) {
            log::warn(ref + ": " + err.message() + " (run `gantry system fsck`)");
        }
        for (auto& image : images) {
            Entry e;
            try {
                e.image = store::read_image(store, image);
            } catch (const Error& err) {
                log::warn(ref + ": " + err.message() + " (run `gantry system fsck`)");
                continue;
            }
            e.facts = docker_model::image_facts(*e.image, ref);
            facts.push_back(e.facts);
            locals.push_back(std::move(e));
        }
    }
    // the untagged images (a commit without a name: docker's dangling ones), after the named
    for (auto& md : store.untagged()) {
        Entry e;
        try {
            e.image = store::read_image(store, md);
        } catch (const Error& err) {
            log::warn("untagged image " + md.str() + ": " + err.message() +
                      " (run `gantry system fsck`)");
            continue;
        }
        e.facts = docker_model::image_facts(*e.image, "");
        facts.push_back(e.facts);
        locals.push_back(std::move(e));
    }
    std::optional<docker_model::ImageFilter> filter;
    if (!filters.empty()) filter.emplace(filters, facts);
    auto keep = [&](const docker_model::ImageFacts& f) { return !filter || filter->matches(f); };
    // docker's SIZE: unpacked, recorded in refs.json (computed once for older images)
    std::set<oci::Digest> manifests;
    for (auto& l : locals) manifests.insert(l.image->manifest_digest);
    const auto sizes = store::image_sizes(store, manifests);
    for (auto& e : locals) {
        if (!keep(e.facts)) continue;
        e.compressed = static_cast<std::uint64_t>(e.image->compressed_size());
        auto it = sizes.find(e.image->manifest_digest);
        e.size = it != sizes.end() ? it->second.unpacked : e.compressed; // no unpacked tree
        out.entries.push_back(std::move(e));
    }
    // lazily pulled images: how much of each is local (lazy/store_layers.hpp)
    for (auto& rec : lazy::records(store)) {
        std::pair<std::uint64_t, std::uint64_t> bytes;
        Entry e;
        e.where = Where::lazy;
        e.lazy_text = lazy::local_text(store, rec.ref, &bytes);
        if (e.lazy_text.empty()) continue;
        e.facts = {rec.ref, rec.config.str(), rec.manifest.str(), "", {}};
        if (!keep(e.facts)) continue;
        e.local_bytes = bytes.first;
        e.size = e.compressed = bytes.second;
        out.entries.push_back(std::move(e));
    }
    // the shared stores' images, after the local ones
    out.shared_dirs = sqsh::search_dirs(store, image_stores);
    for (auto& s : sqsh::list_shared(out.shared_dirs)) {
        Entry e;
        e.where = Where::shared;
        e.facts = {s.ref, s.manifest.str(), s.manifest.str(), "", {}};
        if (!keep(e.facts)) continue;
        struct stat st {};
        e.present = ::stat(s.file.c_str(), &st) == 0;
        e.size = e.compressed = e.present ? static_cast<std::uint64_t>(st.st_size) : 0;
        e.shared = s;
        out.entries.push_back(std::move(e));
    }
    return out;
}

std::size_t count_images(store::Store& store, const std::vector<std::string>& image_stores) {
    std::set<std::string> ids;
    for (const auto& e : list(store, image_stores, {}).entries) ids.insert(e.facts.id);
    return ids.size();
}

} // namespace gantry::image_list
