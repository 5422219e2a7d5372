#include "engine/network_connect.hpp"

#include "engine/networks.hpp"
#include "engine/request_json.hpp"
#include "network/addresses.hpp"
#include "network/holder.hpp"
#include "records/events.hpp"
#include "records/state.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace gantry::engine {

namespace {

struct Target {
    network::UserNetwork net;
    records::ContainerState state;
    RunRequest request;
    // the request's user networks, as given (its --network first)
    std::vector<std::string> networks;
};

Target find_target(const store::Store& store, const std::string& verb, const std::string& net,
                   const std::string& container) {
    if (network::predefined_network(net))
        throw Error(Errc::unsupported,
                    "network " + verb + " " + net + ": gantry " + verb +
                        "s containers to and from user-defined networks only",
                    "give --network " + net + " when the container is made");
    auto n = user_networks(store).find(net);
    if (!n)
        throw Error(Errc::not_found, "network " + net + " not found",
                    "see gantry network ls, or create it: gantry network create " + net);
    Target t{*n, records::StateDir().get(container), {}, {}};
    if (!t.state.startable)
        throw Error(Errc::unsupported,
                    "network " + verb + ": container " + container +
                        " keeps no run request (a foreground run without -d or --name)",
                    "run it with -d or --name to " + verb + " it");
    t.request = read_request(t.state.container_dir);
    const auto mode = network::parse_mode(t.request.network, "--network");
    if (mode == network::Mode::user) t.networks.push_back(t.request.network);
    for (auto& m : t.request.more_networks) t.networks.push_back(m);
    // a container that is not running with no network (none, or left none by disconnect) may
    // join one: its first
    if (mode != network::Mode::user &&
        !(mode == network::Mode::none && verb == "connect" && !t.state.running()))
        throw Error(Errc::unsupported,
                    "network " + verb + ": container " + container + " is on network " +
                        t.request.network +
                        "; gantry joins user networks to a container made on one",
                    "make it with --network NAME of a user network");
    return t;
}

bool same_network(const store::Store& store, const std::string& given,
                  const network::UserNetwork& n) {
    if (given == n.name || given == n.id) return true;
    auto found = user_networks(store).find(given);
    return found && found->id == n.id;
}

// The container's /etc/resolv.conf (its own copy, bound: rewritten in place) with the
// nameserver GATEWAY added (ADD) or taken out.
void edit_resolv_conf(const records::ContainerState& s, const std::string& gateway, bool add) {
    std::string path;
    for (auto& m : s.spec.mounts)
        if (m.destination == "/etc/resolv.conf") path = m.source;
    if (path.empty()) return;
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string out, line;
    int servers = 0;
    std::istringstream lines(ss.str());
    while (std::getline(lines, line)) {
        if (line == "nameserver " + gateway) continue;
        if (line.starts_with("nameserver ")) ++servers;
        out += line + "\n";
    }
    if (add && servers < 3) out += "nameserver " + gateway + "\n"; // glibc reads three
    std::ofstream f(path, std::ios::trunc);
    f << out;
    if (!f.flush())
        throw Error(Errc::io, "cannot write " + path, "check the runtime directory's filesystem");
}

} // namespace

void connect_network(const store::Store& store, const std::string& network,
                     const std::string& container, const std::vector<std::string>& aliases,
                     const std::string& ip, const std::string& ip6) {
    auto t = find_target(store, "connect", network, container);
    const std::string static_ip =
        ip.empty() ? "" : network::static_address(t.net, ip, false, "--ip");
    const std::string static_ip6 =
        ip6.empty() ? "" : network::static_address(t.net, ip6, true, "--ip6");
    for (auto& a : aliases)
        if (!network::valid_network_name(a))
            throw Error(Errc::usage, "--alias " + a + " is not a name",
                        "use letters, digits, '_', '.' and '-'");
    auto& s = t.state;
    if (std::ranges::any_of(t.networks,
                            [&](const std::string& g) { return same_network(store, g, t.net); }))
        throw Error(Errc::conflict,
                    "endpoint with name " + s.name + " already exists in network " + t.net.name,
                    "it is connected already (gantry inspect " + s.name + ")");
    auto all = aliases;
    all.push_back(s.id);
    records::StateDir states;
    auto& r = t.request;
    if (network::parse_mode(r.network, "--network") == network::Mode::none)
        r.network = t.net.name; // a created container joins its first network
    else
        r.more_networks.push_back(t.net.name);
    for (auto& a : aliases) r.endpoint_aliases.push_back(t.net.name + "=" + a);
    for (auto* a : {&static_ip, &static_ip6})
        if (!a->empty()) r.endpoint_ips.push_back(t.net.name + "=" + *a);
    if (s.running()) {
        std::string mac;
        auto e = network::connect_running(
            network::holder_dir(records::runtime_dir(), store.root().string()), s.id, s.name, s.pid,
            network::Endpoint{t.net.name, static_ip, all, "", static_ip6}, t.net, mac);
        edit_resolv_conf(s, t.net.gateway, true);
        write_request(s.container_dir, r);
        if (!s.endpoints.is_object()) s.endpoints = nlohmann::json::object();
        s.endpoints[t.net.name] =
            endpoint_json(t.net, all, e.ip, e.ip6, mac, static_ip, static_ip6);
        states.save_current(s);
        records::EventJournal().append(
            records::network_event("connect", t.net.id, t.net.name, s.id));
        return;
    }
    auto owner = states.take(s); // not while another gantry starts it
    write_request(s.container_dir, r);
    if (!s.endpoints.is_object()) s.endpoints = nlohmann::json::object();
    s.endpoints[t.net.name] = endpoint_json(t.net, all, "", "", "", static_ip, static_ip6);
    s.network =
        network::parse_mode(r.network, "--network") == network::Mode::user ? r.network : s.network;
    states.save(s);
}

void disconnect_network(const store::Store& store, const std::string& network,
                        const std::string& container) {
    auto t = find_target(store, "disconnect", network, container);
    auto& s = t.state;
    auto& r = t.request;
    auto given = std::ranges::find_if(
        t.networks, [&](const std::string& g) { return same_network(store, g, t.net); });
    if (given == t.networks.end())
        throw Error(Errc::conflict,
                    "container " + s.id + " is not connected to network " + t.net.name,
                    "see its networks: gantry inspect " + container);
    const std::string name = *given;
    if (name == r.network) {
        r.ip.clear(); // --ip and --ip6 were that network's
        r.ip6.clear();
        if (r.more_networks.empty()) {
            r.network = "none"; // its last network: none left, as docker's
        } else {
            r.network = r.more_networks.front();
            r.more_networks.erase(r.more_networks.begin());
        }
    } else {
        std::erase(r.more_networks, name);
    }
    std::erase_if(r.endpoint_aliases,
                  [&](const std::string& a) { return a.starts_with(name + "="); });
    std::erase_if(r.endpoint_ips, [&](const std::string& a) { return a.starts_with(name + "="); });
    records::StateDir states;
    if (s.endpoints.is_object()) s.endpoints.erase(t.net.name);
    if (s.running()) {
        if (!network::disconnect_running(
                network::holder_dir(records::runtime_dir(), store.root().string()), s.id, s.pid,
                t.net.name))
            throw Error(Errc::conflict,
                        "container " + s.id + " is not connected to network " + t.net.name,
                        "see its networks: gantry inspect " + container);
        edit_resolv_conf(s, t.net.gateway, false);
        write_request(s.container_dir, r);
        states.save_current(s);
        records::EventJournal().append(
            records::network_event("disconnect", t.net.id, t.net.name, s.id));
        return;
    }
    auto owner = states.take(s);
    write_request(s.container_dir, r);
    if (r.network == "none") s.network = "none";
    states.save(s);
}

} // namespace gantry::engine
