#include "engine_api/api.hpp"
#include "util/error.hpp"

namespace gantry::engine_api {

const std::string& Request::arg(const std::string& name) const {
    static const std::string none; // function-local: no start-up constructor
    auto it = query.find(name);
    return it == query.end() ? none : it->second;
}

Response json_response(int status, const json& body) {
    Response r;
    r.status = status;
    r.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    return r;
}

Response error_response(int status, const std::string& message) {
    return json_response(status, json{{"message", message}});
}

namespace {

int api_dispatch_status(Errc code) {
    switch (code) {
    case Errc::not_found:
        return 404;
    case Errc::conflict:
        return 409;
    case Errc::usage:
    case Errc::invalid:
        return 400;
    case Errc::unsupported:
        return 501;
    default:
        return 500;
    }
}

} // namespace

Response dispatch(const ServiceContext& ctx, Request& request) {
    try {
        switch (request.route.id) {
        case RouteId::not_found:
            return error_response(404, "page not found: " + request.route.endpoint +
                                           " is not an endpoint of the Docker Engine API " +
                                           kApiVersion);
        case RouteId::not_yet:
            return error_response(501, "gantry's Engine API does not serve " +
                                           request.route.endpoint +
                                           " yet (docs/engine-api.md lists what it serves): "
                                           "use the gantry CLI for it");
        case RouteId::containers_list:
        case RouteId::containers_prune:
        case RouteId::container_inspect:
        case RouteId::container_logs:
        case RouteId::container_stop:
        case RouteId::container_kill:
        case RouteId::container_pause:
        case RouteId::container_unpause:
        case RouteId::container_wait:
        case RouteId::container_delete:
        case RouteId::container_top:
            return handle_containers(ctx, request);
        case RouteId::container_stats:
            return handle_stats(ctx, request);
        case RouteId::container_create:
        case RouteId::container_start:
        case RouteId::container_restart:
        case RouteId::container_rename:
        case RouteId::container_resize:
        case RouteId::container_attach:
        case RouteId::container_changes:
        case RouteId::commit:
            return handle_lifecycle(ctx, request);
        case RouteId::exec_create:
        case RouteId::exec_start:
        case RouteId::exec_inspect:
        case RouteId::exec_resize:
            return handle_exec(ctx, request);
        case RouteId::images_list:
        case RouteId::image_inspect:
        case RouteId::image_history:
        case RouteId::image_delete:
        case RouteId::image_tag:
            return handle_images(ctx, request);
        case RouteId::image_create:
        case RouteId::image_push:
            return handle_transfer(ctx, request);
        case RouteId::images_load:
        case RouteId::images_get:
        case RouteId::image_get:
            return handle_image_archive(ctx, request);
        case RouteId::build:
            return handle_build(ctx, request);
        case RouteId::archive_get:
        case RouteId::archive_head:
        case RouteId::archive_put:
            return handle_archive(ctx, request);
        case RouteId::volumes_list:
        case RouteId::volume_create:
        case RouteId::volume_inspect:
        case RouteId::volume_delete:
        case RouteId::volumes_prune:
            return handle_volumes(ctx, request);
        case RouteId::networks_list:
        case RouteId::network_create:
        case RouteId::network_inspect:
        case RouteId::network_delete:
        case RouteId::network_connect:
        case RouteId::network_disconnect:
        case RouteId::networks_prune:
            return handle_networks(ctx, request);
        default:
            return handle_system(ctx, request);
        }
    } catch (const ApiError& e) {
        return error_response(e.status(), e.what());
    } catch (const Error& e) {
        std::string m = e.message();
        if (!e.hint().empty()) m += " (" + e.hint() + ")";
        return error_response(api_dispatch_status(e.code()), m);
    } catch (const std::exception& e) {
        return error_response(500, std::string("internal error: ") + e.what());
    }
}

} // namespace gantry::engine_api
