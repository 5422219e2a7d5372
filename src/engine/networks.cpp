#include "engine/networks.hpp"

#include "engine/engine.hpp"
#include "network/addresses.hpp"
#include "records/events.hpp"
#include "records/state.hpp"
#include "store/store.hpp"
#include "util/config_file.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace gantry::engine {

namespace {

// -p in the host's network: a container there serves its ports on the host as they are, so a
// port published as itself is accepted (with a note) and any other mapping is refused: the
// bridge network forwards ports.
void check_host_publish(const std::string& p) {
    const auto ports = network::parse_publish(p);
    for (const auto& m : ports) {
        if (m.host_port != 0 && m.host_port != m.container_port) {
            const auto in = std::to_string(m.container_port), out = std::to_string(m.host_port);
            throw Error(Errc::usage,
                        "-p " + p + ": cannot publish container port " + in + " as host port " +
                            out +
                            " in the host's network (gantry run's default), where no port is "
                            "forwarded",
                        "add --network bridge (the container's own network, its ports "
                        "forwarded), or use -p " +
                            in + ":" + in + " and have the program listen on port " + out);
        }
    }
    log::note("-p " + p + ": the container shares the host's network, so port " +
              std::to_string(ports.front().container_port) +
              " is served on the host as it is (-p is not needed; --network bridge forwards "
              "ports)");
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The spec's bind of DESTINATION made to come from SOURCE, writable (the container's own copy,
// as docker's), added when the host had no such file to bind.
void bind_file(oci::RuntimeSpec& spec, const std::string& destination, const std::string& source) {
    for (auto& m : spec.mounts)
        if (m.destination == destination) {
            m.source = source;
            m.options = {"bind", "nosuid", "nodev", "noexec"};
            return;
        }
    spec.mounts.push_back(
        oci::Mount{destination, "bind", source, {"bind", "nosuid", "nodev", "noexec"}});
}

} // namespace

std::string configured_network() {
    std::string file;
    yaml::Node doc = config_file::load(file, "it is YAML, e.g. `network: bridge`");
    const yaml::Node* key = doc.kind == yaml::Node::Kind::map ? doc.find("network") : nullptr;
    if (!key || key->kind == yaml::Node::Kind::null) return "host";
    const std::string where = file + " line " + std::to_string(key->line) + ": network";
    if (key->kind != yaml::Node::Kind::scalar ||
        (key->value != "host" && key->value != "bridge" && key->value != "none"))
        throw Error(Errc::invalid, where + " is not host, bridge or none",
                    "write e.g. `network: bridge` (docs/networks.md)");
    return key->value;
}

ContainerNetwork plan_network(const RunRequest& r) {
    ContainerNetwork n;
    n.mode = network::parse_mode(r.network, "--network");
    for (auto& h : r.add_hosts) n.extra_hosts.push_back(network::parse_add_host(h));
    if (n.mode == network::Mode::none && (!r.publish.empty() || r.publish_all))
        throw Error(Errc::usage,
                    std::string(r.publish_all ? "-P" : "-p " + r.publish.front()) +
                        ": a container with --network none has no network to publish on",
                    "drop --network none (--network bridge publishes ports), or -p");
    if (n.mode == network::Mode::host) {
        for (auto& p : r.publish) check_host_publish(p);
        if (r.publish_all)
            throw Error(Errc::usage,
                        "-P: the host's network (gantry run's default) publishes nothing: the "
                        "container's ports are the host's",
                        "add --network bridge to publish the image's exposed ports");
    }
    if (n.mode == network::Mode::container) {
        n.target = r.network.substr(std::string_view("container:").size());
        if (!r.publish.empty() || r.publish_all || !r.add_hosts.empty())
            throw Error(Errc::usage,
                        std::string(!r.add_hosts.empty() ? "--add-host" : "-p") +
                            " conflicts with --network " + r.network +
                            ": the container shares that one's network and its files",
                        "publish the ports, and add the hosts, on " + n.target);
    }
    if (n.mode == network::Mode::bridge || n.mode == network::Mode::user)
        for (auto& p : r.publish)
            for (auto& m : network::parse_publish(p)) n.ports.push_back(m);
    for (auto& e : r.expose) network::parse_exposed(e, "--expose");
    if (n.mode == network::Mode::user) n.user.push_back({r.network, std::nullopt, {}});
    for (auto& more : r.more_networks) {
        if (n.mode != network::Mode::user ||
            network::parse_mode(more, "--network") != network::Mode::user)
            throw Error(Errc::usage,
                        "--network " + r.network + " --network " + more +
                            ": a container joins several networks only when each is a "
                            "user-defined network",
                        "name user networks only (gantry network create NAME), or one --network");
        if (std::ranges::any_of(n.user, [&](const auto& e) { return e.given == more; }))
            throw Error(Errc::usage, "--network " + more + " is given twice",
                        "name each network once");
        n.user.push_back({more, std::nullopt, {}});
    }
    for (auto& a : r.network_aliases) {
        if (n.mode != network::Mode::user)
            throw Error(Errc::usage,
                        "--network-alias " + a +
                            ": network-scoped aliases are only supported for user-defined "
                            "networks",
                        "add --network NAME (gantry network create NAME)");
        if (!network::valid_network_name(a))
            throw Error(Errc::usage, "--network-alias " + a + " is not a name",
                        "use letters, digits, '_', '.' and '-'");
        for (auto& e : n.user) e.aliases.push_back(a); // on each network, as podman's
    }
    auto user_only = [&](const std::string& flag, const std::string& address) {
        return Error(Errc::usage,
                     "user specified IP address is supported on user defined networks only (" +
                         flag + " " + address + " with --network " + r.network + ")",
                     "give --network NAME of a user network (gantry network create NAME)");
    };
    for (auto [flag, address] : {std::pair{"--ip", &r.ip}, std::pair{"--ip6", &r.ip6}}) {
        if (address->empty()) continue;
        if (n.mode != network::Mode::user) throw user_only(flag, *address);
        (std::string(flag) == "--ip" ? n.user.front().ip : n.user.front().ip6) = *address;
    }
    for (auto& na : r.endpoint_ips) {
        const auto eq = na.find('=');
        const std::string net = na.substr(0, eq),
                          a = eq == std::string::npos ? "" : na.substr(eq + 1);
        const bool v6 = network::ipv6_form(a);
        if (network::predefined_network(net) || net.starts_with("container:"))
            throw user_only(v6 ? "IPv6Address" : "IPv4Address", a);
        auto e = std::ranges::find_if(n.user, [&](const auto& u) { return u.given == net; });
        if (e == n.user.end())
            throw Error(Errc::usage,
                        "the address " + na + " is not on one of the container's networks",
                        "give NETWORK=ADDRESS of a network the container is on");
        (v6 ? e->ip6 : e->ip) = a;
    }
    for (auto& e : n.user) { // the address's form now; its subnet at the start
        if (!e.ip.empty()) network::parse_ipv4(e.ip, "--ip");
        if (!e.ip6.empty()) network::parse_ipv6(e.ip6, "--ip6");
    }
    for (auto& na : r.endpoint_aliases) {
        const auto eq = na.find('=');
        const std::string net = na.substr(0, eq),
                          a = eq == std::string::npos ? "" : na.substr(eq + 1);
        auto e = std::ranges::find_if(n.user, [&](const auto& u) { return u.given == net; });
        if (e == n.user.end() || !network::valid_network_name(a))
            throw Error(Errc::usage,
                        "the alias " + na +
                            " is not NETWORK=NAME on one of the container's networks",
                        "name a network the container is on, and a name of letters, digits, '_', "
                        "'.' and '-'");
        e->aliases.push_back(a);
    }
    return n;
}

network::NetworkStore user_networks(const store::Store& store) {
    return network::NetworkStore(store.root() / "networks");
}

void add_exposed_ports(ContainerNetwork& net, const RunRequest& r,
                       const nlohmann::json& image_config) {
    if (!r.publish_all || (net.mode != network::Mode::bridge && net.mode != network::Mode::user))
        return;
    std::vector<network::PortMapping> exposed;
    if (image_config.contains("config") && image_config["config"].is_object()) {
        auto e = image_config["config"].find("ExposedPorts");
        if (e != image_config["config"].end() && e->is_object())
            for (auto& [key, v] : e->items())
                for (auto& m : network::parse_exposed(key, "the image's ExposedPorts"))
                    exposed.push_back(m);
    }
    for (auto& key : r.expose)
        for (auto& m : network::parse_exposed(key, "--expose")) exposed.push_back(m);
    for (auto& m : exposed) {
        const bool published = std::ranges::any_of(net.ports, [&](const network::PortMapping& p) {
            return p.container_port == m.container_port && p.protocol == m.protocol;
        });
        if (!published) net.ports.push_back(m);
    }
}

void join_container_network(Prepared& p) {
    auto& n = p.network;
    if (n.mode != network::Mode::container) return;
    auto target = records::StateDir().find(n.target);
    if (!target)
        throw Error(Errc::not_found, "--network container:" + n.target + ": no such container",
                    "name a running container (gantry ps)");
    if (!target->running())
        throw Error(Errc::conflict,
                    "--network container:" + n.target + ": the container is not running",
                    "start it first: gantry start " + n.target);
    n.joined = target->id;
    auto& s = p.spec;
    const std::string proc = "/proc/" + std::to_string(target->pid) + "/ns/";
    std::erase(s.namespaces, "network");
    std::erase(s.namespaces, "user");
    s.namespace_paths["network"] = proc + "net";
    s.namespace_paths["user"] = proc + "user";
    s.uid_mappings = target->spec.uid_mappings;
    s.gid_mappings = target->spec.gid_mappings;
    // its hostname and files, as docker shares them (UTS stays the container's own)
    s.hostname = target->spec.hostname;
    for (auto& e : s.env)
        if (e.starts_with("HOSTNAME=") && p.request.hostname.empty()) e = "HOSTNAME=" + s.hostname;
    for (const char* f : {"/etc/hosts", "/etc/resolv.conf"})
        for (const auto& m : target->spec.mounts)
            if (m.destination == f) bind_file(s, f, m.source);
}

void write_network_files(Prepared& p) {
    auto& n = p.network;
    if (n.mode == network::Mode::user) {
        // each network looked up at each start (it may have been removed since create); the
        // files are written at the launch, once the container has its addresses there
        const auto store = user_networks(*p.store);
        for (auto& e : n.user) {
            e.found = store.find(e.given);
            if (!e.found)
                throw Error(Errc::not_found, "network " + e.given + " not found",
                            "create it (gantry network create " + e.given +
                                "), or see gantry network ls");
            if (!e.ip.empty()) e.ip = network::static_address(*e.found, e.ip, false, "--ip");
            if (!e.ip6.empty()) e.ip6 = network::static_address(*e.found, e.ip6, true, "--ip6");
            for (auto& other : n.user)
                if (&other != &e && other.found && other.found->id == e.found->id)
                    throw Error(Errc::usage,
                                "--network " + e.given + " and --network " + other.given +
                                    " are the same network, " + e.found->name,
                                "name each network once");
        }
        // the backend, before anything starts: Error(unsupported) naming the package
        (void)network::netavark_program();
        (void)network::aardvark_program();
        if (!n.ports.empty() &&
            std::ranges::all_of(n.user, [](const auto& e) { return e.found->internal; }))
            throw Error(Errc::usage,
                        "-p/-P: the network " + n.user.front().found->name +
                            " is --internal: it has no way out, and publishes no port",
                        "publish the port from a container on a network that is not internal");
        // published ports: a pasta of its own forwards them into the container's namespace
        n.published = n.ports;
        network::assign_host_ports(n.published);
        const auto dir = p.scratch->dir();
        for (const char* f : {"hosts", "resolv.conf"}) {
            fs::write_atomic(dir / f, "", 0644, fs::Sync::volatile_only);
            bind_file(p.spec, std::string("/etc/") + f, (dir / f).string());
        }
        return;
    }
    const bool own = n.mode == network::Mode::bridge;
    if (!own && n.extra_hosts.empty()) return;
    const auto dir = p.scratch->dir();
    std::string hosts;
    if (own) {
        n.published = n.ports;
        network::assign_host_ports(n.published);
        const auto route = network::host_route();
        hosts = network::hosts_file(p.spec.hostname, route.address, n.extra_hosts, route.gateway);
        bool forward = false;
        const std::string resolv =
            network::resolv_conf(read_text("/etc/resolv.conf"), route.gateway, &forward);
        n.dns_forward = forward ? route.gateway : "";
        fs::write_atomic(dir / "resolv.conf", resolv, 0644, fs::Sync::volatile_only);
        bind_file(p.spec, "/etc/resolv.conf", (dir / "resolv.conf").string());
    } else {
        // the host's own lines, then --add-host's; in the host's network the host is 127.0.0.1
        hosts = read_text("/etc/hosts");
        if (!hosts.empty() && hosts.back() != '\n') hosts += '\n';
        for (auto& h : n.extra_hosts) {
            if (h.ip == "host-gateway" && n.mode == network::Mode::none)
                throw Error(Errc::usage,
                            "--add-host " + h.name +
                                ":host-gateway: a container with --network none has no way "
                                "to the host",
                            "use --network bridge or host");
            hosts +=
                (h.ip == "host-gateway" ? std::string("127.0.0.1") : h.ip) + "\t" + h.name + "\n";
        }
    }
    fs::write_atomic(dir / "hosts", hosts, 0644, fs::Sync::volatile_only);
    bind_file(p.spec, "/etc/hosts", (dir / "hosts").string());
}

std::unique_ptr<network::Attachment> attach_user_network(Prepared& p, oci::RuntimeSpec& spec) {
    auto& n = p.network;
    const std::string name = p.request.name.empty() ? p.id : p.request.name;
    std::vector<network::Endpoint> endpoints;
    std::vector<network::UserNetwork> networks;
    for (auto& u : n.user) {
        auto aliases = u.aliases;
        aliases.push_back(p.id); // docker answers to the short id too
        endpoints.push_back(
            {u.found->name, u.ip, aliases, "eth" + std::to_string(endpoints.size()), u.ip6});
        networks.push_back(*u.found);
    }
    auto a = std::make_unique<network::Attachment>(
        network::holder_dir(records::runtime_dir(), p.store->root().string()), p.id, name,
        std::move(endpoints), std::move(networks), spec.uid_mappings, spec.gid_mappings);
    if (::geteuid() != 0) {
        // rootless: netavark has a say over the container's network namespace only from the
        // networks' user namespace, which owns it once the container joined that one
        std::erase(spec.namespaces, "user");
        spec.namespace_paths["user"] = "/proc/" + std::to_string(a->holder()) + "/ns/user";
    }
    // /etc/hosts: its first network's address (docker writes one); resolv.conf: each network's
    // aardvark-dns, which answers the names of the container's networks (glibc reads three)
    const auto& first = a->endpoints().front();
    const auto dir = p.scratch->dir();
    std::string hosts =
        network::hosts_file(spec.hostname, first.ip, n.extra_hosts, n.user.front().found->gateway);
    if (!first.ip6.empty()) hosts += first.ip6 + "\t" + spec.hostname + "\n"; // docker's too
    fs::write_atomic(dir / "hosts", hosts, 0644, fs::Sync::volatile_only);
    std::string resolv = "search dns.podman\n";
    for (std::size_t i = 0; i < n.user.size() && i < 3; ++i)
        resolv += "nameserver " + n.user[i].found->gateway + "\n";
    fs::write_atomic(dir / "resolv.conf", resolv, 0644, fs::Sync::volatile_only);
    return a;
}

void journal_network_events(const network::Attachment& a, const std::string& action,
                            const std::string& id) {
    std::vector<records::ContainerEvent> events;
    for (auto& [nid, name] : a.networks_now())
        events.push_back(records::network_event(action, nid, name, id));
    records::EventJournal().append_all(events);
}

nlohmann::json endpoint_json(const network::UserNetwork& n, const std::vector<std::string>& aliases,
                             const std::string& ip, const std::string& ip6, const std::string& mac,
                             const std::string& static_ip, const std::string& static_ip6) {
    nlohmann::json ipam = nullptr;
    if (!static_ip.empty() || !static_ip6.empty()) {
        ipam = nlohmann::json::object();
        if (!static_ip.empty()) ipam["IPv4Address"] = static_ip;
        if (!static_ip6.empty()) ipam["IPv6Address"] = static_ip6;
    }
    const int prefix = ip.empty() ? 0 : network::parse_cidr(n.subnet, "network " + n.name).prefix;
    const int prefix6 =
        ip6.empty() ? 0 : network::parse_cidr6(n.subnet6, "network " + n.name).prefix;
    return {{"IPAMConfig", ipam},
            {"Links", nullptr},
            {"Aliases", aliases},
            {"NetworkID", n.id},
            {"EndpointID", ""},
            {"Gateway", ip.empty() ? "" : n.gateway},
            {"IPAddress", ip},
            {"IPPrefixLen", prefix},
            {"IPv6Gateway", ip6.empty() ? "" : n.gateway6},
            {"GlobalIPv6Address", ip6},
            {"GlobalIPv6PrefixLen", prefix6},
            {"MacAddress", mac},
            {"DriverOpts", nullptr}};
}

nlohmann::json endpoint_config(const Prepared& p) {
    nlohmann::json out = nlohmann::json::object();
    for (auto& u : p.network.user) {
        auto aliases = u.aliases;
        aliases.push_back(p.id);
        network::UserNetwork unknown; // looked up at the start: no id yet
        unknown.name = u.given;
        out[u.found ? u.found->name : u.given] =
            endpoint_json(u.found ? *u.found : unknown, aliases, "", "", "", u.ip, u.ip6);
    }
    return out;
}

nlohmann::json endpoint_settings(const network::Attachment& a, const std::vector<std::string>& macs,
                                 const ContainerNetwork& net) {
    nlohmann::json out = nlohmann::json::object();
    for (std::size_t i = 0; i < a.endpoints().size(); ++i) {
        const auto& e = a.endpoints()[i];
        const network::UserNetwork* n = nullptr;
        for (auto& candidate : a.networks())
            if (candidate.name == e.network) n = &candidate;
        if (!n) continue;
        std::string static_ip, static_ip6;
        for (auto& u : net.user)
            if (u.found && u.found->name == e.network) {
                static_ip = u.ip;
                static_ip6 = u.ip6;
            }
        out[e.network] = endpoint_json(*n, e.aliases, e.ip, e.ip6, i < macs.size() ? macs[i] : "",
                                       static_ip, static_ip6);
    }
    return out;
}

} // namespace gantry::engine
