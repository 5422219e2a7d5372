#include "network/addresses.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <fstream>
#include <sys/stat.h>

namespace gantry::network {

namespace {

// the first PREFIX bits of A and B agree
bool same_prefix(const Ipv6& a, const Ipv6& b, int prefix) {
    for (int bit = 0; bit < prefix; ++bit) {
        const int byte = bit / 8, shift = 7 - bit % 8;
        if (((a[byte] >> shift) & 1) != ((b[byte] >> shift) & 1)) return false;
    }
    return true;
}

} // namespace

Ipv6 parse_ipv6(const std::string& text, const std::string& what) {
    Ipv6 a{};
    if (text.empty() || ::inet_pton(AF_INET6, text.c_str(), a.data()) != 1)
        throw Error(Errc::usage, what + " " + text + " is not an IPv6 address",
                    "write it as IPv6 text, e.g. fd00:1::10 (no zone)");
    return a;
}

std::string ipv6_text(const Ipv6& address) {
    char buf[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET6, address.data(), buf, sizeof buf);
    return buf;
}

bool ipv6_form(const std::string& text) {
    return text.find(':') != std::string::npos;
}

bool Cidr6::contains(const Ipv6& address) const {
    return same_prefix(network, address, prefix);
}

bool Cidr6::overlaps(const Cidr6& other) const {
    return same_prefix(network, other.network, std::min(prefix, other.prefix));
}

std::string Cidr6::text() const {
    return ipv6_text(network) + "/" + std::to_string(prefix);
}

Ipv6 Cidr6::nth(std::uint64_t n) const {
    Ipv6 a = network;
    // N added to the last eight bytes (N is below size(), at most 2^32: within the subnet)
    for (int i = 15; i >= 8 && n; --i) {
        const unsigned sum = a[i] + (n & 0xff);
        a[i] = static_cast<std::uint8_t>(sum);
        n = (n >> 8) + (sum >> 8);
    }
    return a;
}

std::uint64_t Cidr6::size() const {
    const int host_bits = 128 - prefix;
    return host_bits >= 32 ? (std::uint64_t{1} << 32) : (std::uint64_t{1} << host_bits) - 1;
}

Cidr6 parse_cidr6(const std::string& text, const std::string& what) {
    const auto slash = text.find('/');
    const std::string hint = "write an IPv6 subnet as ADDRESS/PREFIX, e.g. fd00:89:1::/64";
    if (slash == std::string::npos)
        throw Error(Errc::usage, what + " " + text + " has no /PREFIX", hint);
    Cidr6 c;
    c.network = parse_ipv6(text.substr(0, slash), what);
    const std::string p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 ||
        !std::ranges::all_of(p, [](char ch) { return ch >= '0' && ch <= '9'; }))
        throw Error(Errc::usage, what + " " + text + ": the prefix is not a number", hint);
    c.prefix = std::stoi(p);
    if (c.prefix < 16 || c.prefix > 120)
        throw Error(Errc::usage, what + " " + text + ": an IPv6 prefix must be /16 to /120", hint);
    Ipv6 masked{};
    for (int bit = 0; bit < c.prefix; ++bit)
        masked[bit / 8] |= c.network[bit / 8] & (0x80 >> (bit % 8));
    if (masked != c.network)
        throw Error(Errc::usage, what + " " + text + " has host bits set",
                    "give the subnet's network address, e.g. " + ipv6_text(masked) + "/" + p);
    return c;
}

std::string ipv6_unavailable(const std::string& proc) {
    struct stat st {};
    if (::stat((proc + "/sys/net/ipv6").c_str(), &st) != 0)
        return "the kernel has no IPv6 (" + proc +
               "/sys/net/ipv6 is missing: booted with ipv6.disable=1?)";
    std::ifstream f(proc + "/sys/net/ipv6/conf/all/disable_ipv6");
    std::string v;
    if (f >> v && v != "0")
        return "IPv6 is disabled on this host (" + proc +
               "/sys/net/ipv6/conf/all/disable_ipv6 is " + v + ")";
    return "";
}

std::string static_address(const UserNetwork& n, const std::string& address, bool v6,
                           const std::string& flag) {
    const std::string family = v6 ? "IPv6" : "IPv4";
    if (address.empty() || ipv6_form(address) != v6)
        throw Error(Errc::usage, "invalid " + family + " address: " + address,
                    "give " + flag + " an " + family + " address of the network's subnet");
    if (v6 && !n.ipv6())
        throw Error(Errc::usage,
                    "user specified IP address is supported only when connecting to networks "
                    "with user configured subnets (" +
                        flag + " " + address + ": network " + n.name + " has no IPv6 subnet)",
                    "create the network with --ipv6 (gantry network create --ipv6 --subnet "
                    "fd00:...::/64 " +
                        n.name + ")");
    auto outside = [&](const std::string& subnet) {
        return Error(Errc::usage,
                     "Invalid address " + address +
                         ": It does not belong to any of this network's subnets (network " +
                         n.name + ": " + subnet + ")",
                     "give " + flag + " a host address of " + subnet);
    };
    auto taken = [&] {
        return Error(Errc::conflict,
                     "Address already in use (" + flag + " " + address + ": the gateway of " +
                         n.name + ")",
                     "give another address of the subnet");
    };
    if (v6) {
        const Ipv6 a = parse_ipv6(address, flag);
        const Cidr6 c = parse_cidr6(n.subnet6, "network " + n.name);
        if (!c.contains(a) || a == c.network) throw outside(n.subnet6);
        if (a == parse_ipv6(n.gateway6, "network " + n.name)) throw taken();
        return ipv6_text(a);
    }
    const std::uint32_t a = parse_ipv4(address, flag);
    const Cidr c = parse_cidr(n.subnet, "network " + n.name);
    if (!c.contains(a) || a == c.network || a == c.broadcast()) throw outside(n.subnet);
    if (a == parse_ipv4(n.gateway, "network " + n.name)) throw taken();
    return ipv4_text(a);
}

} // namespace gantry::network
