// network/user_network: user-defined networks (docker's `network create`, compose's
// `<project>_default`): what one is (a name, a 64-hex id, one IPv4 subnet with its gateway, a
// bridge interface, --internal, labels), docker's rules for names and the options gantry
// honours (driver bridge only), and where they are kept: one JSON file per network under the
// store (ROOT/networks/ID.json), written atomically under the directory's lock, so a network
// is there whole or not at all. The address of each container on a network is given at its
// start (network/attachments.hpp); the bridge and its DNS live in the network namespace of
// network/holder.hpp, configured by netavark (network/netavark.hpp).
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gantry::network {

struct UserNetwork {
    std::string name, id, created; // id: 64 hex digits; created: RFC 3339
    std::string subnet, gateway;   // "10.89.3.0/24", "10.89.3.1"
    std::string subnet6, gateway6; // IPv6 (docker's --ipv6): "fd89:...::/64", its ::1; "": none
    std::string bridge;            // the bridge interface's name ("gn" + 12 hex digits of id)
    bool internal = false;         // no route out (docker's --internal)
    std::map<std::string, std::string> labels;

    bool ipv6() const { return !subnet6.empty(); } // docker's EnableIPv6
    nlohmann::json to_json() const;                // the file's
    // J as the file holds it; Error(invalid) naming WHAT for a field missing or malformed.
    static UserNetwork from_json(const nlohmann::json& j, const std::string& what);
};

// docker's rule for a network's name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 255 bytes.
bool valid_network_name(const std::string& name);
// host, none, bridge (and "default"): docker's pre-defined networks, never created or removed.
bool predefined_network(const std::string& name);

// What `network create` and POST /networks/create ask for. SUBNET empty: a free 10.89.N.0/24;
// GATEWAY empty: the subnet's first address. IPV6: an IPv6 subnet too, SUBNET6 (empty: a
// unique local fdXX:XXXX:XXXX:XXXX::/64 of its own) with GATEWAY6 (empty: its ::1); a SUBNET6
// or GATEWAY6 without IPV6 is refused, as docker's.
struct CreateRequest {
    std::string name, driver = "bridge", subnet, gateway, subnet6, gateway6;
    bool internal = false, ipv6 = false;
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> options; // docker's --opt: none is honoured (refused)
    std::string ip_range;                       // refused when given: addresses are the subnet's
};

// An IPv4 CIDR: its network address and prefix length; Error(usage) naming TEXT and WHAT when
// it is none, has host bits set, or is wider than /8 or narrower than /30.
struct Cidr {
    std::uint32_t network = 0; // host byte order
    int prefix = 0;
    bool contains(std::uint32_t address) const;
    std::uint32_t broadcast() const;
};
Cidr parse_cidr(const std::string& text, const std::string& what);
std::uint32_t parse_ipv4(const std::string& text, const std::string& what); // Error(usage)
std::string ipv4_text(std::uint32_t address);

// The networks of one store, kept in DIR (ROOT/networks).
class NetworkStore {
  public:
    explicit NetworkStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

    // A new network: Error(usage) for a bad name or subnet, Error(unsupported) naming a driver,
    // option or IPv6 gantry does not serve, Error(conflict) for a name taken or a subnet that
    // overlaps another network's.
    UserNetwork create(const CreateRequest& r) const;
    // By name, full id or an id prefix of 12 or more digits (docker's), else nullopt.
    std::optional<UserNetwork> find(const std::string& name_or_id) const;
    std::vector<UserNetwork> list() const; // by name
    // Removed (its file); the caller checked that no container uses it.
    void remove(const UserNetwork& n) const;

  private:
    std::filesystem::path dir_;
};

} // namespace gantry::network
