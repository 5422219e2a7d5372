// network/ports and network/etc_files: docker's -p grammar, the shapes ps, port and inspect
// print, --add-host, and the hosts and resolv.conf a bridge container gets.
#include "network/etc_files.hpp"
#include "network/mode.hpp"
#include "network/ports.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace network_ports_test {

using namespace gantry;
using network::PortMapping;

namespace {

std::string usage_error(const std::string& text) {
    try {
        network::parse_publish(text);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage) << text;
        return e.message();
    }
    ADD_FAILURE() << text << " was accepted";
    return "";
}

} // namespace

TEST(NetworkPorts, ParsesDockersGrammar) {
    using V = std::vector<PortMapping>;
    EXPECT_EQ(network::parse_publish("8080:80"), (V{{"", 8080, 80, "tcp"}}));
    EXPECT_EQ(network::parse_publish("80"), (V{{"", 0, 80, "tcp"}}));
    EXPECT_EQ(network::parse_publish("127.0.0.1:8080:80/udp"), (V{{"127.0.0.1", 8080, 80, "udp"}}));
    EXPECT_EQ(network::parse_publish("127.0.0.1::80"), (V{{"127.0.0.1", 0, 80, "tcp"}}));
    EXPECT_EQ(network::parse_publish("[::1]:8080:80/TCP"), (V{{"::1", 8080, 80, "tcp"}}));
    EXPECT_EQ(network::parse_publish("8000-8002:80-82"),
              (V{{"", 8000, 80, "tcp"}, {"", 8001, 81, "tcp"}, {"", 8002, 82, "tcp"}}));
    EXPECT_EQ(network::parse_publish("9000-9001/udp"),
              (V{{"", 0, 9000, "udp"}, {"", 0, 9001, "udp"}}));
}

TEST(NetworkPorts, RefusesWhatDockerRefusesOrPastaCannotServe) {
    EXPECT_NE(usage_error("http").find("invalid -p http"), std::string::npos);
    EXPECT_NE(usage_error("0:80").find("is not a host port"), std::string::npos);
    EXPECT_NE(usage_error("8080:70000").find("is not a container port"), std::string::npos);
    EXPECT_NE(usage_error("8000-8002:80").find("the host range has 3 ports"), std::string::npos);
    EXPECT_NE(usage_error("80-79").find("is not a container port"), std::string::npos);
    EXPECT_NE(usage_error("80/sctp").find("sctp"), std::string::npos);
    EXPECT_NE(usage_error("1.2.3:8080:80").find("is not an IP address"), std::string::npos);
}

TEST(NetworkPorts, ExposedKeys) {
    using V = std::vector<PortMapping>;
    EXPECT_EQ(network::parse_exposed("80/tcp", "x"), (V{{"", 0, 80, "tcp"}}));
    EXPECT_EQ(network::parse_exposed("53/udp", "x"), (V{{"", 0, 53, "udp"}}));
    EXPECT_THROW(network::parse_exposed("eighty", "x"), Error);
}

TEST(NetworkPorts, DockersShapes) {
    std::vector<PortMapping> p{{"", 8000, 80, "tcp"},
                               {"", 8001, 81, "tcp"},
                               {"127.0.0.1", 9000, 9000, "udp"},
                               {"::1", 7000, 70, "tcp"}};
    EXPECT_EQ(network::ps_text(p), "0.0.0.0:8000-8001->80-81/tcp, 127.0.0.1:9000->9000/udp, "
                                   "[::1]:7000->70/tcp");
    auto j = network::inspect_ports(p);
    EXPECT_EQ(j["80/tcp"][0]["HostIp"], "0.0.0.0");
    EXPECT_EQ(j["80/tcp"][0]["HostPort"], "8000");
    EXPECT_EQ(j["9000/udp"][0]["HostIp"], "127.0.0.1");
    EXPECT_EQ(network::port_lines(p, "81"), (std::vector<std::string>{"0.0.0.0:8001"}));
    EXPECT_EQ(network::port_lines(p, "9000/udp"), (std::vector<std::string>{"127.0.0.1:9000"}));
    EXPECT_TRUE(network::port_lines(p, "9000").empty()); // tcp by default
    EXPECT_EQ(network::port_lines(p, "").front(), "80/tcp -> 0.0.0.0:8000");
    EXPECT_EQ(network::api_ports(p)[0]["PublicPort"], 8000);
    EXPECT_EQ(network::ports_from_json(network::to_json(p)), p);
}

TEST(NetworkPorts, AssignsFreePortsAndRefusesTwiceTheSame) {
    std::vector<PortMapping> p{{"127.0.0.1", 0, 80, "tcp"}, {"127.0.0.1", 0, 53, "udp"}};
    network::assign_host_ports(p);
    EXPECT_NE(p[0].host_port, 0);
    EXPECT_NE(p[1].host_port, 0);
    std::vector<PortMapping> twice{{"127.0.0.1", p[0].host_port, 80, "tcp"},
                                   {"127.0.0.1", p[0].host_port, 81, "tcp"}};
    EXPECT_THROW(network::assign_host_ports(twice), Error);
}

TEST(NetworkModes, ParsedAndRefusedByName) {
    EXPECT_EQ(network::parse_mode("default", "--network"), network::Mode::bridge);
    EXPECT_EQ(network::parse_mode("container:web", "--network"), network::Mode::container);
    EXPECT_EQ(network::parse_mode("mynet", "--network"), network::Mode::user);
    EXPECT_THROW(network::parse_mode("container:", "--network"), Error);
    EXPECT_THROW(network::parse_mode("", "--network"), Error);
}

TEST(NetworkFiles, AddHostHostsAndResolvConf) {
    auto h = network::parse_add_host("db:10.0.0.5");
    EXPECT_EQ(h.name, "db");
    EXPECT_EQ(h.ip, "10.0.0.5");
    EXPECT_EQ(network::parse_add_host("v6=[::1]").ip, "::1");
    EXPECT_EQ(network::parse_add_host("gw:host-gateway").ip, "host-gateway");
    EXPECT_THROW(network::parse_add_host("db"), Error);
    EXPECT_THROW(network::parse_add_host("db:not-an-ip"), Error);

    auto hosts = network::hosts_file("abc123", "192.0.2.2",
                                     {{"db", "10.0.0.5"}, {"gw", "host-gateway"}}, "192.0.2.1");
    EXPECT_EQ(hosts.substr(0, 20), "127.0.0.1\tlocalhost\n");
    EXPECT_NE(hosts.find("10.0.0.5\tdb\n192.0.2.1\tgw\n192.0.2.2\tabc123\n"), std::string::npos);
    EXPECT_THROW(network::hosts_file("x", "", {{"gw", "host-gateway"}}, ""), Error);

    bool forward = true;
    EXPECT_EQ(network::resolv_conf("search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\n",
                                   "192.0.2.1", &forward),
              "search lan\nnameserver 10.0.0.1\n");
    EXPECT_FALSE(forward);
    EXPECT_EQ(network::resolv_conf("nameserver 127.0.0.53\noptions edns0\n", "192.0.2.1", &forward),
              "options edns0\nnameserver 192.0.2.1\n");
    EXPECT_TRUE(forward);
}

} // namespace network_ports_test
