// engine/network_connect: docker's `network connect` and `disconnect` of a container that
// exists, for `gantry network` and the Engine API's POST /networks/{id}/connect|disconnect.
// A created or exited container: its kept request (request.json) names the network from then
// on, and its next start joins it (compose 1.29 connects a service's further networks between
// create and start). A running container started on a user network: the network's endpoint
// made or removed in its namespace by netavark (network::connect_running), its
// /etc/resolv.conf naming each network's DNS, its record's NetworkSettings.Networks and its
// request updated (a later start keeps the networks it has).
#pragma once

#include <string>
#include <vector>

namespace gantry::store {
class Store;
}

namespace gantry::engine {

// CONTAINER joins the user network NETWORK with ALIASES (and its short id), at the static
// addresses IP and IP6 when given ("": one of the subnet's; network/addresses.hpp's refusals).
// Error(not_found) for a missing network or container; Error(unsupported) for a pre-defined
// network or a container not made on a user network; Error(conflict) in docker's words when it
// is on NETWORK already, or is being started, or a running container's address is taken.
void connect_network(const store::Store& store, const std::string& network,
                     const std::string& container, const std::vector<std::string>& aliases,
                     const std::string& ip = "", const std::string& ip6 = "");
// CONTAINER leaves NETWORK (its last: it keeps no network, as --network none). Error(conflict)
// in docker's words when it is not on it; the others as connect_network's.
void disconnect_network(const store::Store& store, const std::string& network,
                        const std::string& container);

} // namespace gantry::engine
