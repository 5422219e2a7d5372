#include "network/user_network.hpp"

#include "network/addresses.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"
#include "util/random.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <unistd.h>

namespace gantry::network {

namespace {

constexpr std::size_t kMaxNetworkFile = 1 << 20;

bool net_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::string net_string(const nlohmann::json& j, const char* key, const std::string& what,
                       bool required = true) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        if (!required) return "";
        throw Error(Errc::invalid, what + ": " + key + " is missing",
                    "remove the network's file and create it again (gantry network create)");
    }
    if (!it->is_string())
        throw Error(Errc::invalid, what + ": " + key + " is not a string",
                    "remove the network's file and create it again (gantry network create)");
    return it->get<std::string>();
}

bool overlaps(const Cidr& a, const Cidr& b) {
    return a.contains(b.network) || b.contains(a.network);
}

} // namespace

bool Cidr::contains(std::uint32_t address) const {
    const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
    return (address & mask) == network;
}

std::uint32_t Cidr::broadcast() const {
    return network | (prefix == 32 ? 0 : (~std::uint32_t{0} >> prefix));
}

std::uint32_t parse_ipv4(const std::string& text, const std::string& what) {
    in_addr a{};
    if (text.empty() || ::inet_pton(AF_INET, text.c_str(), &a) != 1)
        throw Error(Errc::usage, what + " " + text + " is not an IPv4 address",
                    "write it as four numbers, e.g. 10.89.0.1");
    return ntohl(a.s_addr);
}

std::string ipv4_text(std::uint32_t address) {
    in_addr a{htonl(address)};
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &a, buf, sizeof buf);
    return buf;
}

Cidr parse_cidr(const std::string& text, const std::string& what) {
    const auto slash = text.find('/');
    const std::string hint = "write an IPv4 subnet as ADDRESS/PREFIX, e.g. 10.89.7.0/24";
    if (slash == std::string::npos)
        throw Error(Errc::usage, what + " " + text + " has no /PREFIX", hint);
    if (text.find(':') != std::string::npos)
        throw Error(Errc::unsupported,
                    what + " " + text + " is IPv6 where an IPv4 subnet is needed",
                    "give an IPv4 subnet (a network's IPv6 subnet goes beside one, with --ipv6)");
    Cidr c;
    c.network = parse_ipv4(text.substr(0, slash), what);
    const std::string p = text.substr(slash + 1);
    if (p.empty() || p.size() > 2 ||
        !std::ranges::all_of(p, [](char ch) { return ch >= '0' && ch <= '9'; }))
        throw Error(Errc::usage, what + " " + text + ": the prefix is not a number", hint);
    c.prefix = std::stoi(p);
    if (c.prefix < 8 || c.prefix > 30)
        throw Error(Errc::usage, what + " " + text + ": a prefix must be /8 to /30", hint);
    if (!c.contains(c.network) || (c.network & (~std::uint32_t{0} << (32 - c.prefix))) != c.network)
        throw Error(Errc::usage, what + " " + text + " has host bits set",
                    "give the subnet's network address, e.g. " +
                        ipv4_text(c.network & (~std::uint32_t{0} << (32 - c.prefix))) + "/" + p);
    return c;
}

bool valid_network_name(const std::string& n) {
    if (n.empty() || n.size() > 255 || !net_alnum(n[0])) return false;
    return std::ranges::all_of(
        n, [](char c) { return net_alnum(c) || c == '_' || c == '.' || c == '-'; });
}

bool predefined_network(const std::string& name) {
    return name == "host" || name == "none" || name == "bridge" || name == "default";
}

nlohmann::json UserNetwork::to_json() const {
    nlohmann::json j = {{"Name", name},         {"Id", id},           {"Created", created},
                        {"Subnet", subnet},     {"Gateway", gateway}, {"Bridge", bridge},
                        {"Internal", internal}, {"Labels", labels}};
    if (ipv6()) {
        j["Subnet6"] = subnet6;
        j["Gateway6"] = gateway6;
    }
    return j;
}

UserNetwork UserNetwork::from_json(const nlohmann::json& j, const std::string& what) {
    if (!j.is_object())
        throw Error(Errc::invalid, what + " is not a JSON object",
                    "remove the network's file and create it again (gantry network create)");
    UserNetwork n;
    n.name = net_string(j, "Name", what);
    n.id = net_string(j, "Id", what);
    n.created = net_string(j, "Created", what, false);
    n.subnet = net_string(j, "Subnet", what);
    n.gateway = net_string(j, "Gateway", what);
    n.bridge = net_string(j, "Bridge", what);
    if (!valid_network_name(n.name) || n.id.size() != 64 ||
        !std::ranges::all_of(
            n.id, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }) ||
        n.bridge.size() > 15)
        throw Error(Errc::invalid, what + ": its name, id or bridge is malformed",
                    "remove the network's file and create it again (gantry network create)");
    parse_cidr(n.subnet, what + ": Subnet");
    parse_ipv4(n.gateway, what + ": Gateway");
    n.subnet6 = net_string(j, "Subnet6", what, false);
    if (n.ipv6()) {
        n.gateway6 = net_string(j, "Gateway6", what);
        parse_cidr6(n.subnet6, what + ": Subnet6");
        parse_ipv6(n.gateway6, what + ": Gateway6");
    }
    if (auto it = j.find("Internal"); it != j.end() && it->is_boolean()) n.internal = *it;
    if (auto it = j.find("Labels"); it != j.end() && it->is_object())
        for (auto& [k, v] : it->items())
            if (v.is_string()) n.labels[k] = v.get<std::string>();
    return n;
}

UserNetwork NetworkStore::create(const CreateRequest& r) const {
    if (!valid_network_name(r.name))
        throw Error(Errc::usage,
                    "network name \"" + r.name +
                        "\" is invalid: it must match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
                    "choose another name");
    if (predefined_network(r.name))
        throw Error(Errc::conflict, "network " + r.name + " is pre-defined", "choose another name");
    if (r.driver != "bridge" && !r.driver.empty())
        throw Error(Errc::unsupported, "the network driver " + r.driver + " is not served",
                    "gantry's user networks are bridges: --driver bridge (the default)");
    if (!r.ipv6 && (!r.subnet6.empty() || !r.gateway6.empty()))
        throw Error(Errc::usage,
                    "--subnet/--gateway " + (r.subnet6.empty() ? r.gateway6 : r.subnet6) +
                        ": an IPv6 subnet needs --ipv6 (docker's EnableIPv6)",
                    "add --ipv6, or give an IPv4 subnet");
    if (r.subnet6.empty() && !r.gateway6.empty())
        throw Error(Errc::usage, "--gateway " + r.gateway6 + " needs an IPv6 --subnet",
                    "give the subnet the gateway is in, e.g. --subnet fd00:89:7::/64");
    if (r.ipv6) {
        if (auto why = ipv6_unavailable(); !why.empty())
            throw Error(Errc::unsupported, "--ipv6: " + why,
                        "create the network without --ipv6, or enable IPv6 on the host "
                        "(sysctl net.ipv6.conf.all.disable_ipv6=0)");
        // netavark 1.4 writes an IPv6 network's firewall rules with ip6tables
        if (fs::find_program("ip6tables").empty() && ::access("/usr/sbin/ip6tables", X_OK) != 0 &&
            ::access("/sbin/ip6tables", X_OK) != 0)
            throw Error(Errc::unsupported,
                        "--ipv6: netavark needs ip6tables for an IPv6 network's rules, and it "
                        "is not installed",
                        "install it (Debian and Ubuntu: apt-get install iptables), or create the "
                        "network without --ipv6");
    }
    if (!r.options.empty())
        throw Error(Errc::unsupported,
                    "--opt " + r.options.begin()->first + ": driver options are not honoured",
                    "create the network without --opt");
    if (!r.ip_range.empty())
        throw Error(Errc::unsupported,
                    "--ip-range " + r.ip_range +
                        ": an address range apart from the subnet's "
                        "is not served",
                    "give --subnet alone: containers get its addresses");
    if (r.subnet.empty() && !r.gateway.empty())
        throw Error(Errc::usage, "--gateway " + r.gateway + " needs --subnet",
                    "give the subnet the gateway is in, e.g. --subnet 10.89.7.0/24");
    fs::make_dirs(dir_, 0700);
    FileLock lock(dir_ / ".lock", FileLock::Mode::exclusive);
    const auto existing = list();
    for (auto& n : existing)
        if (n.name == r.name)
            throw Error(Errc::conflict, "network with name " + r.name + " already exists",
                        "remove it first (gantry network rm " + r.name + "), or use it");
    UserNetwork n;
    n.name = r.name;
    n.internal = r.internal;
    n.labels = r.labels;
    Cidr cidr;
    if (!r.subnet.empty()) {
        cidr = parse_cidr(r.subnet, "--subnet");
        for (auto& o : existing)
            if (overlaps(cidr, parse_cidr(o.subnet, "network " + o.name)))
                throw Error(Errc::conflict,
                            "--subnet " + r.subnet + " overlaps network " + o.name + "'s " +
                                o.subnet,
                            "choose a subnet no other network uses (gantry network inspect " +
                                o.name + ")");
    } else {
        bool found = false;
        for (std::uint32_t i = 0; i < 256 && !found; ++i) {
            cidr = Cidr{(10u << 24) | (89u << 16) | (i << 8), 24};
            found = std::ranges::none_of(existing, [&](const UserNetwork& o) {
                return overlaps(cidr, parse_cidr(o.subnet, "network " + o.name));
            });
        }
        if (!found)
            throw Error(Errc::conflict, "every subnet of 10.89.0.0/16 is some network's",
                        "remove a network (gantry network prune), or give --subnet");
    }
    n.subnet = ipv4_text(cidr.network) + "/" + std::to_string(cidr.prefix);
    const std::uint32_t gw =
        r.gateway.empty() ? cidr.network + 1 : parse_ipv4(r.gateway, "--gateway");
    if (!cidr.contains(gw) || gw == cidr.network || gw == cidr.broadcast())
        throw Error(Errc::usage,
                    "--gateway " + ipv4_text(gw) + " is not a host address of " + n.subnet,
                    "give an address inside the subnet, e.g. " + ipv4_text(cidr.network + 1));
    n.gateway = ipv4_text(gw);
    n.id = random::hex_id(32);
    if (r.ipv6) {
        // given, or a unique local /64 of its own (RFC 4193: fd, then 40 bits of the random
        // id as its global ID, as podman picks a random one)
        const std::string subnet6 = r.subnet6.empty()
                                        ? "fd" + n.id.substr(0, 2) + ":" + n.id.substr(2, 4) + ":" +
                                              n.id.substr(6, 4) + "::/64"
                                        : r.subnet6;
        const Cidr6 c6 = parse_cidr6(subnet6, "--subnet");
        for (auto& o : existing)
            if (o.ipv6() && c6.overlaps(parse_cidr6(o.subnet6, "network " + o.name)))
                throw Error(Errc::conflict,
                            "--subnet " + subnet6 + " overlaps network " + o.name + "'s " +
                                o.subnet6,
                            "choose a subnet no other network uses (gantry network inspect " +
                                o.name + ")");
        n.subnet6 = c6.text();
        const Ipv6 gw6 = r.gateway6.empty() ? c6.nth(1) : parse_ipv6(r.gateway6, "--gateway");
        if (!c6.contains(gw6) || gw6 == c6.network)
            throw Error(Errc::usage,
                        "--gateway " + ipv6_text(gw6) + " is not a host address of " + n.subnet6,
                        "give an address inside the subnet, e.g. " + ipv6_text(c6.nth(1)));
        n.gateway6 = ipv6_text(gw6);
    }
    n.bridge = "gn" + n.id.substr(0, 12);
    n.created =
        text::rfc3339(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
    fs::write_atomic(dir_ / (n.id + ".json"), n.to_json().dump(), 0600);
    return n;
}

std::optional<UserNetwork> NetworkStore::find(const std::string& key) const {
    if (key.empty()) return std::nullopt;
    const auto all = list();
    for (auto& n : all)
        if (n.name == key || n.id == key) return n;
    if (key.size() >= 12) {
        std::optional<UserNetwork> match;
        for (auto& n : all)
            if (n.id.starts_with(key)) {
                if (match)
                    throw Error(Errc::usage, "network id " + key + " is ambiguous",
                                "give more digits of its id, or its name");
                match = n;
            }
        return match;
    }
    return std::nullopt;
}

std::vector<UserNetwork> NetworkStore::list() const {
    std::vector<UserNetwork> out;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(dir_, ec)) {
        const auto name = e.path().filename().string();
        if (!name.ends_with(".json") || name.size() != 64 + 5) continue;
        try {
            out.push_back(UserNetwork::from_json(
                nlohmann::json::parse(fs::read_file(e.path(), kMaxNetworkFile)),
                e.path().string()));
        } catch (const nlohmann::json::exception&) {
            throw Error(Errc::invalid, e.path().string() + " is not JSON",
                        "remove it: the network it held is lost (gantry network create)");
        }
    }
    std::ranges::sort(out, {}, &UserNetwork::name);
    return out;
}

void NetworkStore::remove(const UserNetwork& n) const {
    FileLock lock(dir_ / ".lock", FileLock::Mode::exclusive);
    std::error_code ec;
    std::filesystem::remove(dir_ / (n.id + ".json"), ec);
    if (ec)
        throw Error(Errc::io, "cannot remove network " + n.name + ": " + ec.message(),
                    "check the store's permissions");
    fs::sync_dir(dir_);
}

} // namespace gantry::network
