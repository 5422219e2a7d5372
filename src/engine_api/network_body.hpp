// engine_api/network_body: what the Engine API's network endpoints and a container's create
// take about user networks, apart from any socket or store (pure, fuzzed: fuzz_engine_api_decode):
// POST /networks/create's body (docker-py's and compose 1.29's: Name, Driver, Internal, IPAM,
// Labels, and the members left at docker's defaults) as a network::CreateRequest, and
// ContainerCreate's NetworkingConfig.EndpointsConfig (the endpoint on the container's network,
// its Aliases). A value gantry does not honour is ApiError(400) naming it.
#pragma once

#include "engine/run_request.hpp"
#include "network/user_network.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::engine_api {

network::CreateRequest network_create_body(const std::string& body);

// NC (NetworkingConfig) applied to R, whose network HostConfig.NetworkMode gave: the aliases
// of each endpoint; an endpoint on another user network than R's joins that one too (after
// it, in name order: eth1, ...), refused where R's or that one is a pre-defined network; its
// IPAMConfig's addresses as R's endpoint_ips; another endpoint setting (links) is refused.
void apply_networking_config(const nlohmann::json& nc, engine::RunRequest& r);

// POST /networks/{id}/connect's body (Container, EndpointConfig with its Aliases: what compose
// 1.29 sends for a service's further networks; its IPAMConfig's IPv4Address and IPv6Address)
// or, DISCONNECT, /disconnect's (Container, Force). Another endpoint setting (links, link-local
// addresses) is ApiError(400) naming it.
struct ConnectBody {
    std::string container;
    std::vector<std::string> aliases;
    std::string ip, ip6; // static addresses ("": one of the subnet's)
    bool force = false;
};
ConnectBody network_connect_body(const std::string& body, bool disconnect);

} // namespace gantry::engine_api
