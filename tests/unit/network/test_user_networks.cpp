// network/user_network and network/netavark: docker's rules for a network's name and subnet,
// the store of networks (free subnets chosen, overlaps and taken names refused, files read
// back), and the JSON netavark is given and answers.
#include "network/netavark.hpp"
#include "network/user_network.hpp"
#include "util/error.hpp"

#include <filesystem>
#include <gtest/gtest.h>
#include <unistd.h>

namespace network_user_networks_test {

using namespace gantry;

namespace {

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char t[] = "/tmp/gantry-unit-networks-XXXXXX";
        path = ::mkdtemp(t);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

Errc code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.code();
    }
    return Errc::internal;
}

} // namespace

TEST(UserNetworks, NamesAndSubnetsAsDockerReadsThem) {
    EXPECT_TRUE(network::valid_network_name("proj_default"));
    EXPECT_TRUE(network::valid_network_name("a.b-c"));
    EXPECT_FALSE(network::valid_network_name("-x"));
    EXPECT_FALSE(network::valid_network_name("a/b"));
    EXPECT_FALSE(network::valid_network_name(""));
    EXPECT_TRUE(network::predefined_network("bridge"));
    EXPECT_FALSE(network::predefined_network("proj_default"));

    auto c = network::parse_cidr("10.89.7.0/24", "--subnet");
    EXPECT_EQ(network::ipv4_text(c.network), "10.89.7.0");
    EXPECT_EQ(c.prefix, 24);
    EXPECT_TRUE(c.contains(network::parse_ipv4("10.89.7.200", "x")));
    EXPECT_FALSE(c.contains(network::parse_ipv4("10.89.8.1", "x")));
    EXPECT_EQ(network::ipv4_text(c.broadcast()), "10.89.7.255");
    EXPECT_EQ(code_of([] { network::parse_cidr("10.89.7.1/24", "--subnet"); }), Errc::usage);
    EXPECT_EQ(code_of([] { network::parse_cidr("10.89.7.0", "--subnet"); }), Errc::usage);
    EXPECT_EQ(code_of([] { network::parse_cidr("10.89.7.0/31", "--subnet"); }), Errc::usage);
    EXPECT_EQ(code_of([] { network::parse_cidr("fd00::/64", "--subnet"); }), Errc::unsupported);
    EXPECT_EQ(code_of([] { network::parse_cidr("300.1.1.0/24", "--subnet"); }), Errc::usage);
}

TEST(UserNetworks, StoreChoosesFreeSubnetsAndRefusesOverlaps) {
    TempDir d;
    network::NetworkStore store(d.path);
    network::CreateRequest r;
    r.name = "one";
    r.labels = {{"k", "v"}};
    auto one = store.create(r);
    EXPECT_EQ(one.subnet, "10.89.0.0/24");
    EXPECT_EQ(one.gateway, "10.89.0.1");
    EXPECT_EQ(one.id.size(), 64u);
    EXPECT_EQ(one.bridge, "gn" + one.id.substr(0, 12));
    r.name = "two";
    r.labels.clear();
    r.internal = true;
    auto two = store.create(r);
    EXPECT_EQ(two.subnet, "10.89.1.0/24");
    EXPECT_TRUE(two.internal);
    // taken name, overlapping subnet, gateway outside, and what is not served: refused by name
    EXPECT_EQ(code_of([&] { store.create(r); }), Errc::conflict);
    network::CreateRequest o;
    o.name = "three";
    o.subnet = "10.89.0.0/16";
    EXPECT_EQ(code_of([&] { store.create(o); }), Errc::conflict);
    o.subnet = "192.168.50.0/24";
    o.gateway = "192.168.51.1";
    EXPECT_EQ(code_of([&] { store.create(o); }), Errc::usage);
    o.gateway = "192.168.50.254";
    auto three = store.create(o);
    EXPECT_EQ(three.gateway, "192.168.50.254");
    network::CreateRequest bad;
    bad.name = "four";
    bad.driver = "macvlan";
    EXPECT_EQ(code_of([&] { store.create(bad); }), Errc::unsupported);
    bad.driver = "bridge";
    bad.options = {{"mtu", "1400"}};
    EXPECT_EQ(code_of([&] { store.create(bad); }), Errc::unsupported);
    bad.options.clear();
    bad.name = "host";
    EXPECT_EQ(code_of([&] { store.create(bad); }), Errc::conflict);
    // read back from the files, by name, id and a prefix of 12
    auto all = store.list();
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].name, "one");
    EXPECT_EQ(all[0].labels.at("k"), "v");
    EXPECT_EQ(store.find("two")->id, two.id);
    EXPECT_EQ(store.find(two.id.substr(0, 12))->name, "two");
    EXPECT_FALSE(store.find(two.id.substr(0, 5)));
    store.remove(one);
    EXPECT_FALSE(store.find("one"));
    EXPECT_EQ(store.create(network::CreateRequest{.name = "again"}).subnet, "10.89.0.0/24");
}

TEST(UserNetworks, MalformedFileRefusedNamingIt) {
    TempDir d;
    network::NetworkStore store(d.path);
    auto id = std::string(64, 'a');
    std::filesystem::create_directories(d.path);
    FILE* f = std::fopen((d.path / (id + ".json")).c_str(), "w");
    std::fputs(
        R"({"Name":"x","Id":"../../etc","Subnet":"10.0.0.0/24","Gateway":"10.0.0.1","Bridge":"b"})",
        f);
    std::fclose(f);
    EXPECT_EQ(code_of([&] { store.list(); }), Errc::invalid);
}

TEST(Netavark, OptionsAsPodmanSendsThemAndItsAnswerRead) {
    network::UserNetwork n;
    n.name = "proj_default";
    n.id = std::string(64, 'b');
    n.subnet = "10.89.3.0/24";
    n.gateway = "10.89.3.1";
    n.bridge = "gnbbbbbbbbbbbb";
    n.internal = true;
    auto j = network::netavark_options(
        "c0ffee", "proj_web_1", {{"proj_default", "10.89.3.2", {"web", "c0ffee"}, "eth0"}}, {n});
    EXPECT_EQ(j["container_id"], "c0ffee");
    EXPECT_EQ(j["container_name"], "proj_web_1");
    EXPECT_EQ(j["networks"]["proj_default"]["static_ips"][0], "10.89.3.2");
    EXPECT_EQ(j["networks"]["proj_default"]["aliases"][0], "web");
    EXPECT_EQ(j["networks"]["proj_default"]["interface_name"], "eth0");
    auto& info = j["network_info"]["proj_default"];
    EXPECT_EQ(info["network_interface"], "gnbbbbbbbbbbbb");
    EXPECT_EQ(info["driver"], "bridge");
    EXPECT_EQ(info["internal"], true);
    EXPECT_EQ(info["dns_enabled"], true);
    EXPECT_EQ(info["subnets"][0]["subnet"], "10.89.3.0/24");
    EXPECT_EQ(info["subnets"][0]["gateway"], "10.89.3.1");
    EXPECT_THROW(network::netavark_options("c", "n", {{"other", "1.2.3.4", {}, "eth0"}}, {n}),
                 Error);
    // netavark 1.4's answer to a setup (test/ in its repository)
    const std::string answer =
        R"({"proj_default":{"dns_search_domains":["dns.podman"],"dns_server_ips":["10.89.3.1"],)"
        R"("interfaces":{"eth0":{"mac_address":"d2:6c:28:89:18:9a","subnets":[{"gateway":)"
        R"("10.89.3.1","ipnet":"10.89.3.2/24"}]}}}})";
    EXPECT_EQ(network::netavark_mac(answer, "proj_default", "eth0"), "d2:6c:28:89:18:9a");
    EXPECT_EQ(network::netavark_mac(answer, "other", "eth0"), "");
    EXPECT_EQ(network::netavark_mac("[]", "proj_default", "eth0"), "");
    EXPECT_THROW(network::netavark_mac("not json", "proj_default", "eth0"), Error);
}

} // namespace network_user_networks_test
