// The Engine API's image endpoints over the store, as the CLI's images, inspect, history, rmi
// and tag do them: the local store's images (lazily pulled and shared stores' images are not
// listed here yet).
#include "docker_model/filters.hpp"
#include "docker_model/images.hpp"
#include "docker_model/words.hpp"
#include "engine_api/api.hpp"
#include "oci/reference.hpp"
#include "store/gc.hpp"
#include "store/images.hpp"
#include "util/error.hpp"

#include <map>
#include <set>

namespace gantry::engine_api {

namespace {

std::string api_img_familiar(const std::string& ref) {
    try {
        return oci::Reference::parse(ref).familiar();
    } catch (const Error&) {
        return ref;
    }
}

json api_img_list(const ServiceContext& ctx, const Request& r) {
    auto& store = *ctx.store;
    // one row per image, with the names it is listed under
    std::map<std::string, std::vector<std::string>> names; // manifest -> refs
    std::map<std::string, store::Image> images;
    std::vector<docker_model::ImageFacts> facts;
    std::vector<std::string> order;
    for (auto& [ref, md] : store.refs()) {
        auto key = md.str();
        if (!images.count(key)) {
            try {
                images.emplace(key, store::read_image(store, md));
            } catch (const Error&) {
                continue; // a broken image: `gantry images` warns of it
            }
            order.push_back(key);
        }
        names[key].push_back(ref);
        facts.push_back(docker_model::image_facts(images.at(key), ref));
    }
    std::optional<docker_model::ImageFilter> filter;
    auto words = filter_words(r.arg("filters"));
    if (!words.empty()) filter.emplace(words, facts);
    // docker's Size is the unpacked one, as `gantry images` shows it (store::image_sizes)
    std::set<store::Digest> manifests;
    for (auto& [key, img] : images) manifests.insert(img.manifest_digest);
    const auto sizes = store::image_sizes(store, manifests);
    json out = json::array();
    for (auto& key : order) {
        const auto& img = images.at(key);
        auto sz = sizes.find(img.manifest_digest);
        const std::uint64_t size = sz != sizes.end()
                                       ? sz->second.unpacked
                                       : static_cast<std::uint64_t>(img.compressed_size());
        json tags = json::array(), digests = json::array();
        bool any = false;
        for (auto& ref : names[key]) {
            if (filter && !filter->matches(docker_model::image_facts(img, ref))) continue;
            any = true;
            try {
                auto parsed = oci::Reference::parse(ref);
                if (!parsed.tag.empty()) tags.push_back(parsed.familiar());
                digests.push_back(api_img_familiar(parsed.repository()) + "@" + key);
            } catch (const Error&) {
            }
        }
        if (!any) continue;
        json labels = json::object();
        for (auto& [k, v] : docker_model::image_facts(img, key).labels) labels[k] = v;
        out.push_back({{"Id", img.id().str()},
                       {"ParentId", ""},
                       {"RepoTags", tags},
                       {"RepoDigests", digests},
                       {"Created", docker_model::epoch_of(img.config.created).value_or(0)},
                       {"Size", size},
                       {"VirtualSize", size},
                       {"SharedSize", -1},
                       {"Labels", labels},
                       {"Containers", -1}});
    }
    return out;
}

json api_img_history(const store::Image& img) {
    auto lines = store::history(img);
    json out = json::array();
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto& l = lines[i];
        json tags = nullptr;
        if (i == 0) {
            tags = json::array();
            for (auto& ref : img.refs) tags.push_back(api_img_familiar(ref));
        }
        out.push_back({{"Id", i == 0 ? img.id().str() : "<missing>"},
                       {"Created", docker_model::epoch_of(l.entry.created).value_or(0)},
                       {"CreatedBy", l.entry.created_by},
                       {"Tags", tags},
                       {"Size", l.size},
                       {"Comment", l.entry.comment}});
    }
    return out;
}

} // namespace

Response handle_images(const ServiceContext& ctx, const Request& r) {
    auto& store = *ctx.store;
    if (r.route.id == RouteId::images_list) {
        // all (intermediate images too) and digests change nothing: gantry keeps no
        // intermediate images, and RepoDigests are always listed
        return json_response(200, api_img_list(ctx, r));
    }
    const std::string& name = r.route.params.at("name");
    auto not_found = [&] { return error_response(404, "No such image: " + name); };
    switch (r.route.id) {
    case RouteId::image_inspect:
    case RouteId::image_history: {
        std::optional<store::Image> img;
        try {
            img = store::find_image(store, name);
        } catch (const Error& e) {
            if (e.code() == Errc::not_found) return not_found();
            throw;
        }
        return json_response(200, r.route.id == RouteId::image_inspect
                                      ? docker_model::inspect_image(store, *img)
                                      : api_img_history(*img));
    }
    case RouteId::image_delete: {
        if (query_bool(r.arg("noprune")))
            throw ApiError(501, "gantry keeps no parent images, so noprune has nothing to keep: "
                                "remove the image without noprune=1");
        store::Removal removal;
        try {
            removal = store::remove_image(store, name, query_bool(r.arg("force")));
        } catch (const Error& e) {
            if (e.code() == Errc::not_found) return not_found();
            throw;
        }
        json out = json::array();
        for (auto& n : removal.untagged) out.push_back({{"Untagged", api_img_familiar(n)}});
        if (removal.deleted) {
            out.push_back({{"Deleted", removal.deleted->str()}});
            store::collect(store, {*removal.deleted});
        }
        return json_response(200, out);
    }
    case RouteId::image_tag: {
        std::string repo = r.arg("repo"), tag = r.arg("tag");
        if (repo.empty())
            throw ApiError(400, "repository name (repo) must have at least one component");
        oci::Digest md;
        try {
            md = store::resolve(store, name);
        } catch (const Error& e) {
            if (e.code() == Errc::not_found) return not_found();
            throw;
        }
        std::string dst = store::normalize(tag.empty() ? repo : repo + ":" + tag);
        store.update_refs([&](store::RefMap& m) { m[dst] = md; });
        return Response{201, "text/plain", "", nullptr, {}};
    }
    default:
        return error_response(500, "internal error: no handler for " + r.route.endpoint);
    }
}

} // namespace gantry::engine_api
