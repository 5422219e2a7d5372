// The Engine API's networks: the pre-defined bridge, host and none, and the user networks of
// the service's store (engine/user_networks.hpp, what `gantry network` keeps): create as
// docker-py and compose 1.29 send it, list with docker's filters, inspect, delete (404 for a
// missing network, as compose's `down` expects; 403 for a pre-defined one; 409 while a
// container runs on it), prune; connect and disconnect of a container (engine/network_connect.hpp:
// 404 for a missing network or container, 403 for one connected already or not connected, as
// docker answers).
#include "engine/network_connect.hpp"
#include "engine/networks.hpp"
#include "engine/user_networks.hpp"
#include "engine_api/api.hpp"
#include "engine_api/decode.hpp"
#include "engine_api/network_body.hpp"
#include "store/store.hpp"
#include "util/error.hpp"

namespace gantry::engine_api {

Response handle_networks(const ServiceContext& ctx, const Request& r) {
    store::Store store(ctx.store_root);
    switch (r.route.id) {
    case RouteId::networks_list: {
        json out = json::array();
        for (auto& n : engine::list_networks(store, filter_words(r.arg("filters"))))
            out.push_back(std::move(n));
        return json_response(200, out);
    }
    case RouteId::network_create: {
        auto request = network_create_body(r.body);
        if (network::predefined_network(request.name))
            return error_response(403, "operation is not permitted on predefined " + request.name +
                                           " network ");
        auto n = engine::create_network(store, request); // taken: Error(conflict), 409
        return json_response(201, {{"Id", n.id}, {"Warning", ""}});
    }
    case RouteId::network_inspect:
        return json_response(200, engine::inspect_network(store, r.route.params.at("id")));
    case RouteId::network_delete: {
        const auto& id = r.route.params.at("id");
        if (network::predefined_network(id)) // docker's words
            return error_response(403, id + " is a pre-defined network and cannot be removed");
        engine::remove_network(store, id); // 404 missing, 409 in use
        return Response{204, "", "", nullptr, {}};
    }
    case RouteId::networks_prune: {
        json deleted = json::array();
        for (auto& n : engine::prune_networks(store, filter_words(r.arg("filters"))))
            deleted.push_back(n);
        return json_response(200, json{{"NetworksDeleted", deleted}});
    }
    case RouteId::network_connect:
    case RouteId::network_disconnect: {
        const bool off = r.route.id == RouteId::network_disconnect;
        const auto& id = r.route.params.at("id");
        auto body = network_connect_body(r.body, off);
        try {
            if (off)
                engine::disconnect_network(store, id, body.container);
            else
                engine::connect_network(store, id, body.container, body.aliases, body.ip, body.ip6);
        } catch (const Error& e) {
            // docker's: connected already, not connected: 403
            if (e.code() == Errc::conflict) return error_response(403, e.message());
            throw; // a missing network or container: 404; what gantry does not serve: 501
        }
        return Response{200, "", "", nullptr, {}};
    }
    default:
        return error_response(500, "internal error: no handler for " + r.route.endpoint);
    }
}

} // namespace gantry::engine_api
