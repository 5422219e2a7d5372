// network/addresses: IPv6 subnets and addresses as docker's --ipv6 networks take them, the
// host's IPv6 read from /proc, and a static address (--ip, --ip6, IPAMConfig) checked against a
// network in docker's words; network/holder's choice of addresses, static ones kept.
#include "network/addresses.hpp"
#include "network/attachment_files.hpp"
#include "util/error.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

namespace network_addresses_test {

using namespace gantry;

namespace {

std::string why(const std::function<void()>& f, Errc* code = nullptr) {
    try {
        f();
    } catch (const Error& e) {
        if (code) *code = e.code();
        return e.message();
    }
    return "accepted";
}

network::UserNetwork dual() {
    network::UserNetwork n;
    n.name = "dual";
    n.id = std::string(64, 'd');
    n.subnet = "10.89.9.0/24";
    n.gateway = "10.89.9.1";
    n.subnet6 = "fd00:89:9::/64";
    n.gateway6 = "fd00:89:9::1";
    n.bridge = "gndddddddddddd";
    return n;
}

} // namespace

TEST(NetworkAddresses, Ipv6SubnetsAsDockerWritesThem) {
    auto c = network::parse_cidr6("fd00:89:9::/64", "--subnet");
    EXPECT_EQ(c.prefix, 64);
    EXPECT_EQ(c.text(), "fd00:89:9::/64");
    EXPECT_TRUE(c.contains(network::parse_ipv6("fd00:89:9::abcd", "x")));
    EXPECT_FALSE(c.contains(network::parse_ipv6("fd00:89:8::1", "x")));
    EXPECT_EQ(network::ipv6_text(c.nth(1)), "fd00:89:9::1");
    EXPECT_EQ(network::ipv6_text(c.nth(0x1ff)), "fd00:89:9::1ff");
    EXPECT_EQ(c.size(), std::uint64_t{1} << 32);
    EXPECT_EQ(network::parse_cidr6("fd00::/120", "x").size(), 255u);
    EXPECT_TRUE(c.overlaps(network::parse_cidr6("fd00:89::/32", "x")));
    EXPECT_TRUE(network::parse_cidr6("fd00:89::/32", "x").overlaps(c));
    EXPECT_FALSE(c.overlaps(network::parse_cidr6("fd00:89::/48", "x")));
    EXPECT_FALSE(c.overlaps(network::parse_cidr6("fd00:89:a::/64", "x")));
    Errc code{};
    EXPECT_NE(why([] { network::parse_cidr6("fd00:89:9::1/64", "--subnet"); }, &code)
                  .find("host bits set"),
              std::string::npos);
    EXPECT_EQ(code, Errc::usage);
    EXPECT_NE(why([] { network::parse_cidr6("fd00::/8", "--subnet"); }).find("/16 to /120"),
              std::string::npos);
    EXPECT_NE(why([] { network::parse_ipv6("fe80::1%eth0", "--ip6"); }).find("not an IPv6"),
              std::string::npos);
    EXPECT_TRUE(network::ipv6_form("::1"));
    EXPECT_FALSE(network::ipv6_form("10.0.0.1"));
}

TEST(NetworkAddresses, HostIpv6ReadFromProc) {
    char t[] = "/tmp/gantry-unit-proc-XXXXXX";
    const std::filesystem::path proc = ::mkdtemp(t);
    EXPECT_NE(network::ipv6_unavailable(proc).find("ipv6.disable"), std::string::npos);
    std::filesystem::create_directories(proc / "sys/net/ipv6/conf/all");
    std::ofstream(proc / "sys/net/ipv6/conf/all/disable_ipv6") << "1\n";
    EXPECT_NE(network::ipv6_unavailable(proc).find("disable_ipv6 is 1"), std::string::npos);
    std::ofstream(proc / "sys/net/ipv6/conf/all/disable_ipv6") << "0\n";
    EXPECT_EQ(network::ipv6_unavailable(proc), "");
    std::filesystem::remove_all(proc);
}

TEST(NetworkAddresses, StaticAddressRefusedInDockersWords) {
    auto n = dual();
    EXPECT_EQ(network::static_address(n, "10.89.9.20", false, "--ip"), "10.89.9.20");
    EXPECT_EQ(network::static_address(n, "fd00:89:9:0::20", true, "--ip6"), "fd00:89:9::20");
    Errc code{};
    EXPECT_NE(why([&] { network::static_address(n, "10.89.10.5", false, "--ip"); }, &code)
                  .find("Invalid address 10.89.10.5: It does not belong to any of this "
                        "network's subnets"),
              std::string::npos);
    EXPECT_EQ(code, Errc::usage);
    EXPECT_NE(why([&] {
                  network::static_address(n, "10.89.9.255", false, "--ip");
              }).find("does not belong"),
              std::string::npos);
    EXPECT_NE(why([&] {
                  network::static_address(n, "fd00:89:a::5", true, "--ip6");
              }).find("does not belong"),
              std::string::npos);
    EXPECT_NE(why([&] { network::static_address(n, "10.89.9.1", false, "--ip"); }, &code)
                  .find("Address already in use"),
              std::string::npos);
    EXPECT_EQ(code, Errc::conflict);
    EXPECT_NE(why([&] {
                  network::static_address(n, "fd00:89:9::5", false, "--ip");
              }).find("invalid IPv4 address: fd00:89:9::5"),
              std::string::npos);
    n.subnet6.clear();
    n.gateway6.clear();
    EXPECT_NE(why([&] { network::static_address(n, "fd00:89:9::5", true, "--ip6"); })
                  .find("user specified IP address is supported only when connecting to "
                        "networks with user configured subnets"),
              std::string::npos);
}

TEST(NetworkAddresses, AddressesGivenLowestFirstStaticOnesKept) {
    auto n = dual();
    network::detail::Found other;
    other.id = "other";
    other.body = {
        {"endpoints", {{{"network", "dual"}, {"ip", "10.89.9.2"}, {"ip6", "fd00:89:9::2"}}}}};
    network::Endpoint e{"dual", "", {}, "eth0", ""};
    network::detail::give_addresses(e, n, {other});
    EXPECT_EQ(e.ip, "10.89.9.3");
    EXPECT_EQ(e.ip6, "fd00:89:9::3");
    EXPECT_EQ(network::detail::endpoint_record(e)["ip6"], "fd00:89:9::3");
    network::Endpoint s{"dual", "10.89.9.50", {}, "eth0", "fd00:89:9::50"};
    network::detail::give_addresses(s, n, {other});
    EXPECT_EQ(s.ip, "10.89.9.50");
    EXPECT_EQ(s.ip6, "fd00:89:9::50");
    network::Endpoint taken{"dual", "10.89.9.2", {}, "eth0", ""};
    Errc code{};
    EXPECT_NE(why([&] { network::detail::give_addresses(taken, n, {other}); }, &code)
                  .find("Address already in use"),
              std::string::npos);
    EXPECT_EQ(code, Errc::conflict);
    network::Endpoint taken6{"dual", "", {}, "eth0", "fd00:89:9::2"};
    EXPECT_NE(why([&] {
                  network::detail::give_addresses(taken6, n, {other});
              }).find("Address already in use"),
              std::string::npos);
}

TEST(NetworkAddresses, NetavarkGivenBothFamilies) {
    auto n = dual();
    auto j = network::netavark_options(
        "c0ffee", "web", {{"dual", "10.89.9.2", {"web"}, "eth0", "fd00:89:9::2"}}, {n});
    EXPECT_EQ(j["networks"]["dual"]["static_ips"],
              nlohmann::json::array({"10.89.9.2", "fd00:89:9::2"}));
    EXPECT_EQ(j["network_info"]["dual"]["ipv6_enabled"], true);
    EXPECT_EQ(j["network_info"]["dual"]["subnets"][1]["subnet"], "fd00:89:9::/64");
    EXPECT_EQ(j["network_info"]["dual"]["subnets"][1]["gateway"], "fd00:89:9::1");
}

} // namespace network_addresses_test
