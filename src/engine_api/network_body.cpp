#include "engine_api/network_body.hpp"

#include "engine_api/create_body.hpp"
#include "engine_api/request.hpp"
#include "network/addresses.hpp"

namespace gantry::engine_api {

namespace {

using njson = nlohmann::json;

std::string nb_shown(const njson& v) {
    std::string s = v.dump(-1, ' ', false, njson::error_handler_t::replace);
    return s.size() > 200 ? s.substr(0, 200) + "..." : s;
}

[[noreturn]] void nb_refuse(const std::string& field, const njson& v, const std::string& why) {
    throw ApiError(400, "gantry does not honour " + field + " (" + nb_shown(v) + "): " + why +
                            " (docs/engine-api.md lists the fields it honours)");
}

std::string nb_string(const njson& v, const std::string& field) {
    if (v.is_null()) return "";
    if (!v.is_string()) throw ApiError(400, "invalid JSON for " + field + ": expected a string");
    return v.get<std::string>();
}

// EndpointSettings.IPAMConfig ({"IPv4Address", "IPv6Address", "LinkLocalIPs"}): the static
// addresses asked for, each into IP or IP6 ("" none); link-local addresses are refused.
void nb_endpoint_ipam(const njson& v, const std::string& field, std::string& ip, std::string& ip6) {
    if (v.is_null()) return;
    if (!v.is_object()) throw ApiError(400, "invalid JSON for " + field + ": expected an object");
    for (const auto& [k, a] : v.items()) {
        if (k == "IPv4Address")
            ip = nb_string(a, field + "." + k);
        else if (k == "IPv6Address")
            ip6 = nb_string(a, field + "." + k);
        else if (!is_zero_value(a))
            nb_refuse(field + "." + k, a, "link-local addresses are not served");
    }
}

// IPAM: {"Driver": "default", "Config": [{"Subnet", "Gateway"}, ...], "Options": {}}: one
// IPv4 subnet and, with EnableIPv6, one IPv6 subnet (told apart by their form)
void nb_ipam(const njson& ipam, network::CreateRequest& r) {
    if (ipam.is_null()) return;
    if (!ipam.is_object()) throw ApiError(400, "invalid JSON for IPAM: expected an object");
    for (auto& [k, v] : ipam.items()) {
        if (k == "Driver") {
            auto d = nb_string(v, "IPAM.Driver");
            if (!d.empty() && d != "default")
                nb_refuse("IPAM.Driver", v, "gantry gives addresses itself (the default driver)");
        } else if (k == "Config") {
            if (v.is_null()) continue;
            if (!v.is_array())
                throw ApiError(400, "invalid JSON for IPAM.Config: expected an array");
            if (v.size() > 2)
                nb_refuse("IPAM.Config", v, "a network has one IPv4 and one IPv6 subnet");
            for (std::size_t i = 0; i < v.size(); ++i) {
                const auto& c = v[i];
                const std::string f = "IPAM.Config[" + std::to_string(i) + "]";
                if (!c.is_object())
                    throw ApiError(400, "invalid JSON for " + f + ": expected an object");
                std::string subnet, gateway;
                for (auto& [ck, cv] : c.items()) {
                    if (ck == "Subnet")
                        subnet = nb_string(cv, f + ".Subnet");
                    else if (ck == "Gateway")
                        gateway = nb_string(cv, f + ".Gateway");
                    else if (ck == "IPRange")
                        r.ip_range = nb_string(cv, f + ".IPRange");
                    else if (!is_zero_value(cv))
                        nb_refuse(f + "." + ck, cv, "not served");
                }
                const bool v6 = network::ipv6_form(subnet.empty() ? gateway : subnet);
                std::string& into = v6 ? r.subnet6 : r.subnet;
                if (!into.empty())
                    nb_refuse("IPAM.Config", v, "a network has one subnet of each family");
                into = subnet;
                (v6 ? r.gateway6 : r.gateway) = gateway;
            }
        } else if (!is_zero_value(v)) {
            nb_refuse("IPAM." + k, v, "IPAM options are not served");
        }
    }
}

} // namespace

network::CreateRequest network_create_body(const std::string& body) {
    njson j = njson::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw ApiError(400, "the network's create body is not a JSON object");
    network::CreateRequest r;
    for (auto& [k, v] : j.items()) {
        if (k == "Name") {
            r.name = nb_string(v, "Name");
        } else if (k == "Driver") {
            r.driver = nb_string(v, "Driver");
            if (r.driver.empty()) r.driver = "bridge";
        } else if (k == "Internal") {
            if (!v.is_null() && !v.is_boolean())
                throw ApiError(400, "invalid JSON for Internal: expected a boolean");
            r.internal = v.is_boolean() && v.get<bool>();
        } else if (k == "EnableIPv6") {
            if (!v.is_null() && !v.is_boolean())
                throw ApiError(400, "invalid JSON for EnableIPv6: expected a boolean");
            r.ipv6 = v.is_boolean() && v.get<bool>();
        } else if (k == "EnableIPv4") { // docker 28's (API 1.47): a network without IPv4
            if (!v.is_null() && !v.is_boolean())
                throw ApiError(400, "invalid JSON for EnableIPv4: expected a boolean");
            if (v == false) nb_refuse(k, v, "every gantry network has IPv4");
        } else if (k == "IPAM") {
            nb_ipam(v, r);
        } else if (k == "Labels" || k == "Options") {
            if (v.is_null()) continue;
            if (!v.is_object())
                throw ApiError(400, "invalid JSON for " + k + ": expected an object");
            for (auto& [lk, lv] : v.items())
                (k == "Labels" ? r.labels : r.options)[lk] = nb_string(lv, k + "." + lk);
        } else if (k == "CheckDuplicate" || k == "Attachable" || k == "Scope") {
            // CheckDuplicate: gantry always refuses a name taken (docker's 409); Attachable:
            // every user network is; Scope: local, the one
            if (k == "Scope" && !is_zero_value(v) && v != "local")
                nb_refuse(k, v, "gantry's networks are local");
        } else if (!is_zero_value(v)) {
            // Ingress, ConfigOnly, ConfigFrom (swarm)
            nb_refuse(k, v, "not served");
        }
    }
    if (r.name.empty()) throw ApiError(400, "the network's create body has no Name");
    return r;
}

void apply_networking_config(const njson& nc, engine::RunRequest& r) {
    if (nc.is_null()) return;
    if (!nc.is_object())
        throw ApiError(400, "invalid JSON for NetworkingConfig: expected an object");
    for (const auto& [key, v] : nc.items()) {
        if (key != "EndpointsConfig") {
            if (!is_zero_value(v))
                nb_refuse("NetworkingConfig." + key, v, "gantry has no such setting");
            continue;
        }
        if (v.is_null()) continue;
        if (!v.is_object())
            throw ApiError(400,
                           "invalid JSON for NetworkingConfig.EndpointsConfig: expected an object");
        for (const auto& [net, ep] : v.items()) {
            const std::string field = "NetworkingConfig.EndpointsConfig." + net;
            const bool predefined = network::predefined_network(net);
            if (net != r.network && !(predefined && network::predefined_network(r.network))) {
                // another user network beside NetworkMode's user network: eth1, eth2, ...
                if (predefined || network::predefined_network(r.network) ||
                    r.network.starts_with("container:"))
                    nb_refuse(field, ep,
                              "a container joins several networks only when each is a "
                              "user-defined network, and HostConfig.NetworkMode (" +
                                  r.network + ") is one");
                r.more_networks.push_back(net);
            }
            if (ep.is_null()) continue;
            if (!ep.is_object())
                throw ApiError(400, "invalid JSON for " + field + ": expected an object");
            for (const auto& [k, val] : ep.items()) {
                if (k == "Aliases" && !predefined) {
                    if (val.is_null()) continue;
                    if (!val.is_array())
                        throw ApiError(400,
                                       "invalid JSON for " + field + ".Aliases: expected an array");
                    for (auto& a : val) {
                        auto alias = nb_string(a, field + ".Aliases");
                        if (!network::valid_network_name(alias))
                            throw ApiError(400,
                                           field + ".Aliases: \"" + alias + "\" is not a name");
                        r.endpoint_aliases.push_back(net + "=" + alias);
                    }
                } else if (k == "IPAMConfig") {
                    // a static address: refused on a pre-defined network by the engine, in
                    // docker's words (engine/networks.hpp)
                    std::string ip, ip6;
                    nb_endpoint_ipam(val, field + ".IPAMConfig", ip, ip6);
                    for (auto* a : {&ip, &ip6})
                        if (!a->empty()) r.endpoint_ips.push_back(net + "=" + *a);
                } else if (k == "NetworkID" || k == "EndpointID") {
                    // docker's own fields, echoed by clients: ignored by docker as given
                    if (!is_zero_value(val) && k == "EndpointID")
                        nb_refuse(field + "." + k, val, "an endpoint is made at the start");
                } else if (!is_zero_value(val)) {
                    nb_refuse(field + "." + k, val,
                              predefined ? "endpoint settings on a pre-defined network are not "
                                           "served"
                                         : "links, MAC addresses and driver options are not "
                                           "served");
                }
            }
        }
    }
}

ConnectBody network_connect_body(const std::string& body, bool disconnect) {
    njson j;
    try {
        j = njson::parse(body.empty() ? std::string("{}") : body);
    } catch (const njson::exception& e) {
        throw ApiError(400, std::string("invalid JSON: ") + e.what());
    }
    if (!j.is_object()) throw ApiError(400, "invalid JSON: expected an object");
    ConnectBody c;
    for (const auto& [key, v] : j.items()) {
        if (key == "Container") {
            c.container = nb_string(v, "Container");
        } else if (key == "Force" && disconnect) {
            if (!v.is_null() && !v.is_boolean())
                throw ApiError(400, "invalid JSON for Force: expected a boolean");
            c.force = v.is_boolean() && v.get<bool>();
        } else if (key == "EndpointConfig" && !disconnect) {
            if (v.is_null()) continue;
            if (!v.is_object())
                throw ApiError(400, "invalid JSON for EndpointConfig: expected an object");
            for (const auto& [k, val] : v.items()) {
                if (k == "Aliases") {
                    if (val.is_null()) continue;
                    if (!val.is_array())
                        throw ApiError(
                            400, "invalid JSON for EndpointConfig.Aliases: expected an array");
                    for (auto& a : val) {
                        auto alias = nb_string(a, "EndpointConfig.Aliases");
                        if (!network::valid_network_name(alias))
                            throw ApiError(400, "EndpointConfig.Aliases: \"" + alias +
                                                    "\" is not a name");
                        c.aliases.push_back(alias);
                    }
                } else if (k == "IPAMConfig") {
                    nb_endpoint_ipam(val, "EndpointConfig.IPAMConfig", c.ip, c.ip6);
                } else if (k == "NetworkID" || k == "EndpointID") {
                    if (!is_zero_value(val) && k == "EndpointID")
                        nb_refuse("EndpointConfig." + k, val, "an endpoint is made by the connect");
                } else if (!is_zero_value(val)) {
                    nb_refuse("EndpointConfig." + k, val,
                              "links, MAC addresses and driver options are not served");
                }
            }
        } else if (!is_zero_value(v)) {
            nb_refuse(key, v,
                      "not a field of the " + std::string(disconnect ? "disconnect" : "connect") +
                          " request");
        }
    }
    if (c.container.empty()) throw ApiError(400, "the request names no Container");
    return c;
}

} // namespace gantry::engine_api
