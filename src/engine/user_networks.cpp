#include "engine/user_networks.hpp"

#include "engine/networks.hpp"
#include "records/events.hpp"
#include "records/state.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

#include <map>

namespace gantry::engine {

namespace {

using nlohmann::json;

json un_resource(const std::string& name, const std::string& id, const std::string& driver) {
    return {{"Name", name},
            {"Id", id},
            {"Created", "0001-01-01T00:00:00Z"},
            {"Scope", "local"},
            {"Driver", driver},
            {"EnableIPv6", false},
            {"IPAM", {{"Driver", "default"}, {"Options", nullptr}, {"Config", json::array()}}},
            {"Internal", false},
            {"Attachable", false},
            {"Ingress", false},
            {"ConfigFrom", {{"Network", ""}}},
            {"ConfigOnly", false},
            {"Containers", json::object()},
            {"Options", json::object()},
            {"Labels", json::object()}};
}

std::vector<std::shared_ptr<const records::ContainerState>>
un_running_on(const store::Store& store, const network::UserNetwork& n) {
    std::vector<std::shared_ptr<const records::ContainerState>> out;
    // its first network's, or one more of its networks (eth1, ...: run's, or `network connect`)
    for (auto& s : records::StateDir().snapshots())
        if ((s->network == n.name || (s->endpoints.is_object() && s->endpoints.contains(n.name))) &&
            s->store_root == store.root().string() && s->running())
            out.push_back(s);
    return out;
}

// docker's network filters: each key's values ORed, the keys ANDed
bool un_matches(const json& resource, bool builtin, bool in_use,
                const std::vector<std::string>& words) {
    std::map<std::string, std::vector<std::string>> by_key;
    for (auto& w : words) {
        auto eq = w.find('=');
        by_key[w.substr(0, eq)].push_back(eq == std::string::npos ? "" : w.substr(eq + 1));
    }
    const std::string name = resource["Name"], id = resource["Id"], driver = resource["Driver"];
    for (auto& [key, values] : by_key) {
        bool any = false;
        for (auto& val : values) {
            if (key == "name") {
                any |= name.find(val) != std::string::npos;
            } else if (key == "id") {
                any |= id.starts_with(val);
            } else if (key == "driver") {
                any |= driver == val;
            } else if (key == "label") {
                auto eq = val.find('=');
                auto& labels = resource["Labels"];
                auto it = labels.find(val.substr(0, eq));
                any |= it != labels.end() && (eq == std::string::npos || *it == val.substr(eq + 1));
            } else if (key == "type") {
                if (val != "custom" && val != "builtin")
                    throw Error(Errc::usage, "invalid filter: 'type'='" + val + "'",
                                "give type=custom or type=builtin");
                any |= (val == "builtin") == builtin;
            } else if (key == "dangling") {
                const bool dangling = val == "1" || val == "true";
                if (!dangling && val != "0" && val != "false")
                    throw Error(Errc::usage, "invalid filter 'dangling=" + val + "'",
                                "give dangling=true or dangling=false");
                any |= !builtin && dangling != in_use;
            } else {
                throw Error(Errc::usage, "invalid filter '" + key + "' for networks",
                            "gantry's networks filter by name, id, driver, label, type and "
                            "dangling");
            }
        }
        if (!any) return false;
    }
    return true;
}

} // namespace

json predefined_network_json(const std::string& name) {
    Sha256 h;
    h.update("gantry network " + name);
    // bridge: each container's own namespace, connected by pasta (engine/networks.hpp)
    return un_resource(name, h.hex_final(), name == "none" ? "null" : name);
}

json user_network_json(const store::Store& store, const network::UserNetwork& n) {
    json out = un_resource(n.name, n.id, "bridge");
    out["Created"] = n.created;
    out["Internal"] = n.internal;
    out["IPAM"]["Config"] = json::array({{{"Subnet", n.subnet}, {"Gateway", n.gateway}}});
    if (n.ipv6()) {
        out["EnableIPv6"] = true;
        out["IPAM"]["Config"].push_back({{"Subnet", n.subnet6}, {"Gateway", n.gateway6}});
    }
    out["Labels"] = n.labels;
    out["Options"] = {{"com.docker.network.bridge.name", n.bridge}};
    for (auto& s : un_running_on(store, n)) {
        json e = s->endpoints.is_object() && s->endpoints.contains(n.name) ? s->endpoints[n.name]
                                                                           : json::object();
        std::string ip = e.value("IPAddress", ""), ip6 = e.value("GlobalIPv6Address", "");
        const int prefix = e.value("IPPrefixLen", 0), prefix6 = e.value("GlobalIPv6PrefixLen", 0);
        out["Containers"][s->id] = {
            {"Name", s->name},
            {"EndpointID", ""},
            {"MacAddress", e.value("MacAddress", "")},
            {"IPv4Address", ip.empty() ? "" : ip + "/" + std::to_string(prefix)},
            {"IPv6Address", ip6.empty() ? "" : ip6 + "/" + std::to_string(prefix6)}};
    }
    return out;
}

std::vector<json> list_networks(const store::Store& store,
                                const std::vector<std::string>& filters) {
    std::vector<json> out;
    for (const char* name : {"bridge", "host", "none"}) {
        auto j = predefined_network_json(name);
        if (un_matches(j, true, true, filters)) out.push_back(std::move(j));
    }
    for (auto& n : user_networks(store).list()) {
        auto j = user_network_json(store, n);
        if (un_matches(j, false, !j["Containers"].empty(), filters)) out.push_back(std::move(j));
    }
    return out;
}

json inspect_network(const store::Store& store, const std::string& key) {
    for (const char* name : {"bridge", "host", "none"}) {
        auto j = predefined_network_json(name);
        if (key == name || (key.size() >= 12 && j["Id"].get<std::string>().starts_with(key)))
            return j;
    }
    if (auto n = user_networks(store).find(key)) return user_network_json(store, *n);
    throw Error(Errc::not_found, "network " + key + " not found",
                "gantry network ls lists the networks");
}

network::UserNetwork create_network(const store::Store& store, const network::CreateRequest& r) {
    auto n = user_networks(store).create(r);
    records::EventJournal().append(records::network_event("create", n.id, n.name));
    return n;
}

std::vector<std::string> network_users(const store::Store& store, const network::UserNetwork& n) {
    std::vector<std::string> ids;
    for (auto& s : un_running_on(store, n)) ids.push_back(s->id);
    return ids;
}

std::string remove_network(const store::Store& store, const std::string& key) {
    if (network::predefined_network(key))
        throw Error(Errc::unsupported, key + " is a pre-defined network and cannot be removed",
                    "remove the networks you created (gantry network ls)");
    const auto n = user_networks(store).find(key);
    if (!n)
        throw Error(Errc::not_found, "network " + key + " not found",
                    "gantry network ls lists the networks");
    const auto users = network_users(store, *n);
    if (!users.empty())
        throw Error(Errc::conflict,
                    "error while removing network: network " + n->name + " id " + n->id +
                        " has active endpoints (container " + users.front() + ")",
                    "stop its containers first (gantry stop " + users.front() + ")");
    user_networks(store).remove(*n);
    records::EventJournal().append(records::network_event("destroy", n->id, n->name));
    return n->name;
}

std::vector<std::string> prune_networks(const store::Store& store,
                                        const std::vector<std::string>& filters) {
    for (auto& f : filters)
        if (!f.starts_with("label="))
            throw Error(Errc::unsupported, "network prune --filter " + f + " is not served",
                        "filter by label=K[=V]");
    std::vector<std::string> removed;
    for (auto& n : user_networks(store).list()) {
        auto j = user_network_json(store, n);
        if (!j["Containers"].empty() || !un_matches(j, false, false, filters)) continue;
        user_networks(store).remove(n);
        records::EventJournal().append(records::network_event("destroy", n.id, n.name));
        removed.push_back(n.name);
    }
    return removed;
}

} // namespace gantry::engine
