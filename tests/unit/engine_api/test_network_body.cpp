// engine_api/network_body: POST /networks/create's body as compose 1.29 and docker-py send it,
// and a container's NetworkingConfig on a user network (compose's aliases), field by field; what
// gantry does not honour refused by name.
#include "engine_api/create_body.hpp"
#include "engine_api/network_body.hpp"
#include "engine_api/request.hpp"

#include <gtest/gtest.h>

namespace engine_api_network_body_test {

using namespace gantry::engine_api;
using json = nlohmann::json;

std::string refused(const std::function<void()>& f) {
    try {
        f();
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 400);
        return e.what();
    }
    ADD_FAILURE() << "accepted";
    return "";
}

TEST(EngineApiNetworkBody, CreateAsCompose129SendsIt) {
    // docker-py 4.1's create_network for compose 1.29's project network
    auto r = network_create_body(R"({"Name": "proj_default", "Driver": "bridge",
        "Options": {}, "IPAM": null, "CheckDuplicate": true, "Internal": false,
        "Labels": {"com.docker.compose.network": "default",
                   "com.docker.compose.project": "proj"},
        "EnableIPv6": false, "Attachable": false, "Ingress": false, "Scope": "local"})");
    EXPECT_EQ(r.name, "proj_default");
    EXPECT_EQ(r.driver, "bridge");
    EXPECT_FALSE(r.internal);
    EXPECT_EQ(r.labels.at("com.docker.compose.project"), "proj");
    EXPECT_TRUE(r.options.empty());
    // docker's CLI: network create --subnet --gateway --internal
    r = network_create_body(R"({"Name": "n", "CheckDuplicate": true, "Driver": "bridge",
        "Scope": "", "EnableIPv6": false, "IPAM": {"Driver": "default", "Options": {},
        "Config": [{"Subnet": "10.89.9.0/24", "Gateway": "10.89.9.254"}]},
        "Internal": true, "Attachable": false, "Ingress": false, "ConfigOnly": false,
        "ConfigFrom": null, "Options": {}, "Labels": {}})");
    EXPECT_EQ(r.subnet, "10.89.9.0/24");
    EXPECT_EQ(r.gateway, "10.89.9.254");
    EXPECT_TRUE(r.internal);
    // options are kept for network create to refuse by name; the rest refused here
    EXPECT_EQ(network_create_body(R"({"Name": "n", "Options": {"mtu": "1400"}})").options.at("mtu"),
              "1400");
    EXPECT_NE(
        refused([] { network_create_body(R"({"Name": "n", "Ingress": true})"); }).find("Ingress"),
        std::string::npos);
    EXPECT_NE(refused([] {
                  network_create_body(R"({"Name": "n", "IPAM": {"Driver": "dhcp"}})");
              }).find("IPAM.Driver"),
              std::string::npos);
    EXPECT_NE(refused([] { network_create_body(R"({"Driver": "bridge"})"); }).find("no Name"),
              std::string::npos);
    EXPECT_NE(refused([] { network_create_body("[1]"); }).find("not a JSON object"),
              std::string::npos);
}

TEST(EngineApiNetworkBody, ContainerOnAUserNetworkWithComposesAliases) {
    // compose 1.29's create of a service container on its project network
    json body = {{"Image", "busybox"},
                 {"HostConfig", {{"NetworkMode", "proj_default"}}},
                 {"NetworkingConfig",
                  {{"EndpointsConfig",
                    {{"proj_default",
                      {{"IPAMConfig", json::object()},
                       {"Aliases", {"web", "c0ffee"}},
                       {"Links", nullptr}}}}}}}};
    auto r = create_request(body, "proj_web_1");
    EXPECT_EQ(r.network, "proj_default");
    EXPECT_EQ(r.endpoint_aliases,
              (std::vector<std::string>{"proj_default=web", "proj_default=c0ffee"}));
    body["NetworkingConfig"]["EndpointsConfig"]["proj_default"]["Aliases"] = {"a/b"};
    auto why = refused([&] { create_request(body, "proj_web_2"); });
    EXPECT_NE(why.find("not a name"), std::string::npos) << why;
    body["NetworkingConfig"]["EndpointsConfig"]["proj_default"]["Aliases"] = {"web"};
    // another user network: joined too, with its own aliases (eth1)
    body["NetworkingConfig"]["EndpointsConfig"]["other"] = {{"Aliases", {"api"}}};
    r = create_request(body, "proj_web_2");
    EXPECT_EQ(r.more_networks, (std::vector<std::string>{"other"}));
    EXPECT_EQ(r.endpoint_aliases, (std::vector<std::string>{"other=api", "proj_default=web"}));
    // a pre-defined network beside a user one: refused, as with NetworkMode bridge
    body["NetworkingConfig"]["EndpointsConfig"]["bridge"] = json::object();
    why = refused([&] { create_request(body, "proj_web_3"); });
    EXPECT_NE(why.find("each is a user-defined network"), std::string::npos) << why;
    body["NetworkingConfig"]["EndpointsConfig"].erase("bridge");
    body["HostConfig"]["NetworkMode"] = "bridge";
    why = refused([&] { create_request(body, "proj_web_4"); });
    EXPECT_NE(why.find("each is a user-defined network"), std::string::npos) << why;
}

TEST(EngineApiNetworkBody, StaticAddressesFromIpamConfig) {
    // docker run --network n --ip 10.89.9.20 --ip6 fd00:89:9::20, compose's ipv4_address:
    json body = {{"Image", "busybox"},
                 {"HostConfig", {{"NetworkMode", "n"}}},
                 {"NetworkingConfig",
                  {{"EndpointsConfig",
                    {{"n",
                      {{"IPAMConfig",
                        {{"IPv4Address", "10.89.9.20"}, {"IPv6Address", "fd00:89:9::20"}}}}}}}}}};
    auto r = create_request(body, "static");
    EXPECT_EQ(r.endpoint_ips, (std::vector<std::string>{"n=10.89.9.20", "n=fd00:89:9::20"}));
    body["NetworkingConfig"]["EndpointsConfig"]["n"]["IPAMConfig"] = {
        {"LinkLocalIPs", {"169.254.1.1"}}};
    auto why = refused([&] { create_request(body, "static2"); });
    EXPECT_NE(why.find("IPAMConfig.LinkLocalIPs"), std::string::npos) << why;
    // connect's EndpointConfig
    auto c = network_connect_body(
        R"({"Container": "x", "EndpointConfig": {"IPAMConfig": {"IPv4Address": "10.89.9.21"}}})",
        false);
    EXPECT_EQ(c.ip, "10.89.9.21");
    EXPECT_EQ(c.ip6, "");
}

TEST(EngineApiNetworkBody, CreateWithIpv6AsDockerSendsIt) {
    // docker network create --ipv6 --subnet 10.89.9.0/24 --subnet fd00:89:9::/64 n
    auto r = network_create_body(R"({"Name": "n", "EnableIPv6": true, "IPAM": {"Driver":
        "default", "Config": [{"Subnet": "10.89.9.0/24"}, {"Subnet": "fd00:89:9::/64",
        "Gateway": "fd00:89:9::fe"}]}})");
    EXPECT_TRUE(r.ipv6);
    EXPECT_EQ(r.subnet, "10.89.9.0/24");
    EXPECT_EQ(r.subnet6, "fd00:89:9::/64");
    EXPECT_EQ(r.gateway6, "fd00:89:9::fe");
    auto why = refused([] {
        network_create_body(R"({"Name": "n", "IPAM": {"Config": [{"Subnet": "fd00:1::/64"},
            {"Subnet": "fd00:2::/64"}]}})");
    });
    EXPECT_NE(why.find("one subnet of each family"), std::string::npos) << why;
}

} // namespace engine_api_network_body_test
