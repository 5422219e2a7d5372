// The Engine API's image endpoints over the store, as the CLI's images, inspect, history, rmi
// and tag do them: the list (image_list: the local store's, lazily pulled and shared stores'
// images), inspect, history, remove, tag.
#include "docker_model/filters.hpp"
#include "docker_model/images.hpp"
#include "docker_model/words.hpp"
#include "engine_api/api.hpp"
#include "image_list/image_list.hpp"
#include "oci/reference.hpp"
#include "store/gc.hpp"
#include "store/images.hpp"
#include "store/platforms.hpp"
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

// docker's ImageSummary of the image ENTRY (the first of its names), with every name of it
// that FILTERS keep (local images are listed once per image, docker's way)
json api_img_summary(const image_list::Entry& e, const std::vector<std::string>& names) {
    json tags = json::array(), digests = json::array();
    for (auto& ref : names) {
        try {
            auto parsed = oci::Reference::parse(ref);
            if (!parsed.tag.empty()) tags.push_back(parsed.familiar());
            digests.push_back(api_img_familiar(parsed.repository()) + "@" + e.facts.digest);
        } catch (const Error&) { // a SIF file's name: not a reference
        }
    }
    if (tags.empty() && digests.empty() && e.where == image_list::Where::local) {
        tags.push_back("<none>:<none>"); // docker 20.10's words for an untagged image
        digests.push_back("<none>@<none>");
    }
    json labels = json::object();
    for (auto& [k, v] : e.facts.labels) labels[k] = v;
    // where an image that is not in the local store is (gantry's labels; docker has none)
    if (e.where == image_list::Where::lazy) labels["org.gantry.image.lazy"] = e.lazy_text;
    if (e.shared) {
        labels["org.gantry.image.store"] = e.shared->store;
        labels["org.gantry.image.file"] = e.shared->file;
    }
    return {{"Id", e.facts.id},
            {"ParentId", ""},
            {"RepoTags", tags},
            {"RepoDigests", digests},
            {"Created", e.image ? docker_model::epoch_of(e.image->config.created).value_or(0) : 0},
            {"Size", e.size},
            {"VirtualSize", e.size},
            {"SharedSize", -1},
            {"Labels", labels},
            {"Containers", -1}};
}

json api_img_list(const ServiceContext& ctx, const Request& r) {
    auto listing = image_list::list(*ctx.store, ctx.image_stores, filter_words(r.arg("filters")));
    // local images: one row per image, with the names it is listed under
    std::map<std::string, std::vector<std::string>> names; // manifest -> refs
    std::vector<const image_list::Entry*> order;
    json out = json::array();
    for (auto& e : listing.entries) {
        if (e.where != image_list::Where::local) continue;
        auto& refs = names[e.facts.digest];
        if (refs.empty()) order.push_back(&e);
        refs.push_back(e.facts.reference);
    }
    for (auto* e : order) out.push_back(api_img_summary(*e, names[e->facts.digest]));
    for (auto& e : listing.entries)
        if (e.where != image_list::Where::local)
            out.push_back(api_img_summary(e, {e.facts.reference}));
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
        std::string platform = r.arg("platform"); // API 1.48+ (docker 28's --platform)
        try {
            img = platform.empty()
                      ? store::find_image(store, name)
                      : store::read_image(
                            store, store::resolve_platform(store, name, query_platform(platform)));
        } catch (const Error& e) {
            if (e.code() != Errc::not_found) throw;
            if (platform.empty()) return not_found();
            try {
                (void)store::resolve(store, name);
            } catch (const Error&) {
                return not_found();
            }
            return error_response(404, e.message()); // held, but not for that platform
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
        for (auto& d : removal.deleted) { // docker's: the image's ID (its config's digest)
            std::string id = d.str();
            try {
                id = oci::Manifest::parse(store.read_blob(d)).config.digest.str();
            } catch (const Error&) { // its manifest unreadable: named by it
            }
            out.push_back({{"Deleted", id}});
        }
        if (!removal.deleted.empty())
            store::collect(store, {removal.deleted.begin(), removal.deleted.end()});
        return json_response(200, out);
    }
    case RouteId::image_tag: {
        std::string repo = r.arg("repo"), tag = r.arg("tag");
        if (repo.empty())
            throw ApiError(400, "repository name (repo) must have at least one component");
        try {
            store::tag(store, name, tag.empty() ? repo : repo + ":" + tag);
        } catch (const Error& e) {
            if (e.code() == Errc::not_found) return not_found();
            throw;
        }
        return Response{201, "text/plain", "", nullptr, {}};
    }
    default:
        return error_response(500, "internal error: no handler for " + r.route.endpoint);
    }
}

} // namespace gantry::engine_api
