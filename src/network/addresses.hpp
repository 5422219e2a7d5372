// network/addresses: IPv6 subnets and addresses of user networks (docker's --ipv6, --subnet
// fd00::/64), and the checks docker makes of a static address (`run --ip/--ip6`, `network
// connect --ip/--ip6`, the Engine API's EndpointsConfig.*.IPAMConfig) against a network, in
// docker's words. Pure (no files, no namespaces): the unit tests call it.
#pragma once

#include "network/user_network.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace gantry::network {

using Ipv6 = std::array<std::uint8_t, 16>;

// TEXT as an IPv6 address; Error(usage) naming WHAT when it is none (a zone, "%eth0", too).
Ipv6 parse_ipv6(const std::string& text, const std::string& what);
std::string ipv6_text(const Ipv6& address); // the shortest form (inet_ntop's)

// An IPv6 CIDR: its network address and prefix length (/16 to /120).
struct Cidr6 {
    Ipv6 network{};
    int prefix = 0;
    bool contains(const Ipv6& address) const;
    bool overlaps(const Cidr6& other) const;
    std::string text() const; // "fd00:1::/64"
    // the subnet's address N (1: the first after the network's)
    Ipv6 nth(std::uint64_t n) const;
    // how many addresses it has beyond the network's own, at most 2^32 (what is looked through)
    std::uint64_t size() const;
};
// Error(usage) naming TEXT and WHAT when it is none, has host bits set, or its prefix is not
// /16 to /120.
Cidr6 parse_cidr6(const std::string& text, const std::string& what);
// Whether TEXT is written as an IPv6 address or subnet (it has a colon).
bool ipv6_form(const std::string& text);

// Whether the host has IPv6 ("" yes, else why not: no /proc/sys/net/ipv6, the kernel's
// ipv6.disable, or /proc/sys/net/ipv6/conf/all/disable_ipv6 set). PROC: /proc.
std::string ipv6_unavailable(const std::string& proc = "/proc");

// ADDRESS (given as FLAG: --ip, --ip6, IPAMConfig.IPv4Address) as a static address on N, in
// its canonical text. Refused in docker's words: not an address of the family FLAG asks for
// (Error(usage) "invalid IPv4 address: X"); IPv6 on a network without an IPv6 subnet
// (Error(usage) "user specified IP address is supported only when connecting to networks with
// user configured subnets"); outside the subnet, or its network, broadcast or gateway address
// (Error(usage) "Invalid address X: It does not belong to any of this network's subnets", the
// gateway's: Error(conflict) "Address already in use").
std::string static_address(const UserNetwork& n, const std::string& address, bool v6,
                           const std::string& flag);

} // namespace gantry::network
