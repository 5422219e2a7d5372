// The Engine API's volumes: docker's local driver over store/volumes.hpp, the store `gantry
// volume` keeps (a directory per volume). A volume a container mounts (engine/volumes.hpp: any
// container of the service user's, running or not) is in use: rm is a 409 naming the
// containers, force or not (docker's), and prune leaves it.
#include "docker_model/volumes.hpp"
#include "engine/volumes.hpp"
#include "engine_api/api.hpp"
#include "engine_api/decode.hpp"
#include "store/volumes.hpp"
#include "util/error.hpp"

namespace gantry::engine_api {

Response handle_volumes(const ServiceContext& ctx, const Request& r) {
    store::Store store(ctx.store_root);
    switch (r.route.id) {
    case RouteId::volumes_list: {
        auto words = filter_words(r.arg("filters"));
        json out = json::array();
        for (auto& v : store::list_volumes(store))
            if (docker_model::volume_matches(v, words, !engine::volume_users(v).empty()))
                out.push_back(docker_model::inspect_volume(v));
        return json_response(200, {{"Volumes", out}, {"Warnings", json::array()}});
    }
    case RouteId::volume_create: {
        auto spec = volume_spec(r.body);
        return json_response(
            201, docker_model::inspect_volume(store::create_volume(store, spec.name, spec.labels)));
    }
    case RouteId::volume_inspect: {
        auto& name = r.route.params.at("name");
        auto v = store::find_volume(store, name);
        if (!v) return error_response(404, "get " + name + ": no such volume");
        return json_response(200, docker_model::inspect_volume(*v));
    }
    case RouteId::volume_delete: {
        auto& name = r.route.params.at("name");
        auto v = store::find_volume(store, name);
        if (!v) return error_response(404, "get " + name + ": no such volume");
        engine::check_volume_unused(*v); // Error(conflict): 409
        store::remove_volume(store, name);
        return Response{204, "", "", nullptr, {}};
    }
    case RouteId::volumes_prune: {
        auto words = filter_words(r.arg("filters"));
        json deleted = json::array();
        std::uint64_t bytes = 0;
        for (auto& v : store::list_volumes(store)) {
            if (!engine::volume_users(v).empty()) continue;
            if (!docker_model::volume_matches(v, words)) continue;
            bytes += store::volume_size(v);
            store::remove_volume(store, v.name);
            deleted.push_back(v.name);
        }
        return json_response(200, {{"VolumesDeleted", deleted}, {"SpaceReclaimed", bytes}});
    }
    default:
        return error_response(500, "internal error: no handler for " + r.route.endpoint);
    }
}

} // namespace gantry::engine_api
