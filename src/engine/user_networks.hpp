// engine/user_networks: what `gantry network` and the Engine API's /networks endpoints share:
// docker's NetworkResource of each network (the pre-defined bridge, host and none, and the
// store's user networks with the running containers on them), docker's --filter over them,
// create from docker's request, and remove and prune refusing a network a running container
// is on (docker's "has active endpoints").
#pragma once

#include "network/user_network.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::store {
class Store;
}

namespace gantry::engine {

// docker's NetworkResource of a pre-defined network (bridge, host, none).
nlohmann::json predefined_network_json(const std::string& name);
// docker's NetworkResource of N, with Containers: those running on it now.
nlohmann::json user_network_json(const store::Store& store, const network::UserNetwork& n);
// Every network (pre-defined first, then the store's by name) matching docker's FILTERS
// (name=, id=, label=K[=V], driver=, type=custom|builtin, dangling=true|false), as JSON.
std::vector<nlohmann::json> list_networks(const store::Store& store,
                                          const std::vector<std::string>& filters);
// One by name, id or id prefix (pre-defined ones too); Error(not_found) naming KEY.
nlohmann::json inspect_network(const store::Store& store, const std::string& key);

// A new user network of STORE as R asks (network::NetworkStore::create's refusals), its
// create event journalled (records/events.hpp: docker's Type network).
network::UserNetwork create_network(const store::Store& store, const network::CreateRequest& r);

// The ids of the running containers on N.
std::vector<std::string> network_users(const store::Store& store, const network::UserNetwork& n);

// Removes the network KEY names (its destroy event journalled): Error(not_found) for none,
// Error(unsupported) for a pre-defined one, Error(conflict) while a container runs on it.
// Returns its name.
std::string remove_network(const store::Store& store, const std::string& key);
// Removes every user network no container runs on (matching FILTERS: label=, until= refused);
// returns their names.
std::vector<std::string> prune_networks(const store::Store& store,
                                        const std::vector<std::string>& filters);

} // namespace gantry::engine
