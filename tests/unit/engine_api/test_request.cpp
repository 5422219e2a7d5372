// The Engine API's request decoding and routing, apart from any socket (engine_api/request.hpp),
// and the answers dispatch() gives without touching a container or the store.
#include "engine_api/api.hpp"
#include "engine_api/server.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace engine_api_request_test {

using gantry::Errc;
using gantry::Error;
using namespace gantry::engine_api;

TEST(EngineApiRequest, SplitsTheVersionOffThePath) {
    auto t = split_version("/v1.41/containers/json");
    EXPECT_EQ(t.version, "1.41");
    EXPECT_EQ(t.path, "/containers/json");
    t = split_version("/v1.24/_ping");
    EXPECT_EQ(t.version, "1.24");
    EXPECT_EQ(t.path, "/_ping");
    t = split_version("/info");
    EXPECT_EQ(t.version, "");
    EXPECT_EQ(t.path, "/info");
    t = split_version("/volumes"); // a word starting with v is no version
    EXPECT_EQ(t.path, "/volumes");
}

TEST(EngineApiRequest, RefusesVersionsOutsideWhatItServes) {
    try {
        split_version("/v1.45/info");
        FAIL();
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 400);
        EXPECT_STREQ(e.what(), "client version 1.45 is too new. Maximum supported API version "
                               "is 1.41");
    }
    EXPECT_THROW(split_version("/v1.11/info"), ApiError);
    EXPECT_THROW(split_version("/v1/info"), ApiError);
    EXPECT_THROW(split_version("/v1.x/info"), ApiError);
    EXPECT_THROW(split_version("/v99999999999999.1/info"), ApiError);
}

TEST(EngineApiRequest, RoutesByMethodAndPattern) {
    auto r = match_route("GET", "/containers/abc/json");
    EXPECT_EQ(r.id, RouteId::container_inspect);
    EXPECT_EQ(r.params.at("id"), "abc");
    EXPECT_EQ(match_route("HEAD", "/_ping").id, RouteId::ping);
    EXPECT_EQ(match_route("GET", "/containers/json").id, RouteId::containers_list);
    EXPECT_EQ(match_route("DELETE", "/containers/x").id, RouteId::container_delete);
    // an image name has slashes and a tag's colon
    r = match_route("GET", "/images/docker.io/library/busybox:latest/json");
    EXPECT_EQ(r.id, RouteId::image_inspect);
    EXPECT_EQ(r.params.at("name"), "docker.io/library/busybox:latest");
    r = match_route("DELETE", "/images/localhost:5000/a/b:1");
    EXPECT_EQ(r.id, RouteId::image_delete);
    EXPECT_EQ(r.params.at("name"), "localhost:5000/a/b:1");
    EXPECT_EQ(match_route("POST", "/images/a/b/tag").params.at("name"), "a/b");
}

TEST(EngineApiRequest, NamesEndpointsNotServedYetAndUnknownOnes) {
    auto r = match_route("POST", "/containers/x/update");
    EXPECT_EQ(r.id, RouteId::not_yet);
    EXPECT_EQ(r.endpoint, "POST /containers/{id}/update");
    EXPECT_EQ(match_route("POST", "/containers/x/pause").id, RouteId::container_pause);
    EXPECT_EQ(match_route("POST", "/containers/x/unpause").id, RouteId::container_unpause);
    EXPECT_EQ(match_route("POST", "/containers/prune").id, RouteId::containers_prune);
    EXPECT_EQ(match_route("GET", "/containers/x/stats").id, RouteId::container_stats);
    EXPECT_EQ(match_route("POST", "/containers/create").id, RouteId::container_create);
    EXPECT_EQ(match_route("POST", "/containers/x/attach").params.at("id"), "x");
    EXPECT_EQ(match_route("POST", "/exec/e1/start").id, RouteId::exec_start);
    EXPECT_EQ(match_route("GET", "/exec/e1/json").id, RouteId::exec_inspect);
    EXPECT_EQ(match_route("POST", "/images/a/b/push").id, RouteId::image_push);
    EXPECT_EQ(match_route("POST", "/images/prune").id, RouteId::not_yet);
    r = match_route("GET", "/nonsense/here");
    EXPECT_EQ(r.id, RouteId::not_found);
    EXPECT_EQ(r.endpoint, "GET /nonsense/here");
    EXPECT_EQ(match_route("PUT", "/containers/json").id, RouteId::not_found);
    EXPECT_EQ(match_route("GET", "/containers").id, RouteId::not_found);
    EXPECT_EQ(match_route("GET", "/images/x/unknown").id, RouteId::not_found);
    // empty segments are dropped, as docker's router cleans a path
    EXPECT_EQ(match_route("GET", "//images//json").id, RouteId::images_list);
}

TEST(EngineApiRequest, DecodesDockersFiltersBothWays) {
    auto w = filter_words(R"({"label":{"a=b":true,"c":true},"status":{"exited":true}})");
    EXPECT_EQ(w, (std::vector<std::string>{"label=a=b", "label=c", "status=exited"}));
    w = filter_words(R"({"label":["x=1"],"name":["n"]})"); // docker's older encoding
    EXPECT_EQ(w, (std::vector<std::string>{"label=x=1", "name=n"}));
    EXPECT_TRUE(filter_words("").empty());
    EXPECT_TRUE(filter_words(R"({"label":{"off":false}})").empty());
    for (auto bad : {"[", "[]", R"({"label":"x"})", R"({"label":{"x":1}})", R"({"l":[1]})"})
        EXPECT_THROW(filter_words(bad), ApiError) << bad;
}

TEST(EngineApiRequest, ReadsDockersQueryValues) {
    EXPECT_TRUE(query_bool("1"));
    EXPECT_TRUE(query_bool("true"));
    EXPECT_FALSE(query_bool(""));
    EXPECT_FALSE(query_bool("0"));
    EXPECT_FALSE(query_bool("false"));
    EXPECT_EQ(query_int("t", "10"), 10);
    EXPECT_THROW(query_int("t", "-1"), ApiError);
    EXPECT_THROW(query_int("t", "1x"), ApiError);
    EXPECT_EQ(query_time_nanos("since", "1700000000"), 1700000000'000000000LL);
    EXPECT_EQ(query_time_nanos("since", "1700000000.5"), 1700000000'500000000LL);
    EXPECT_EQ(query_time_nanos("since", "1700000000.000000001"), 1700000000'000000001LL);
    EXPECT_THROW(query_time_nanos("since", "10m"), ApiError);
    EXPECT_THROW(query_time_nanos("since", "1.0000000001"), ApiError);
}

TEST(EngineApiDispatch, AnswersDockersErrorJson) {
    ServiceContext ctx;
    Request r;
    r.method = "GET";
    r.path = "/nonsense";
    r.route = match_route(r.method, r.path);
    auto res = dispatch(ctx, r);
    EXPECT_EQ(res.status, 404);
    auto j = json::parse(res.body);
    EXPECT_EQ(j["message"], "page not found: GET /nonsense is not an endpoint of the Docker "
                            "Engine API 1.41");
    r.method = "POST";
    r.path = "/networks/create";
    r.route = match_route(r.method, r.path);
    res = dispatch(ctx, r); // served (handlers_networks): a body that is no network's is a 400
    EXPECT_EQ(res.status, 400);
    EXPECT_NE(json::parse(res.body)["message"].get<std::string>().find("create body"),
              std::string::npos);
    r.path = "/containers/x/update";
    r.route = match_route(r.method, r.path);
    res = dispatch(ctx, r);
    EXPECT_EQ(res.status, 501);
    EXPECT_NE(
        json::parse(res.body)["message"].get<std::string>().find("POST /containers/{id}/update"),
        std::string::npos);
    r.method = "GET";
    r.path = "/networks";
    r.route = match_route(r.method, r.path);
    res = dispatch(ctx, r);
    ASSERT_EQ(res.status, 200);
    auto nets = json::parse(res.body);
    ASSERT_EQ(nets.size(), 3u);
    EXPECT_EQ(nets[0]["Name"], "bridge");
    EXPECT_EQ(nets[1]["Name"], "host");
    EXPECT_EQ(nets[2]["Name"], "none");
}

TEST(EngineApiServer, ReadsSocketActivationAsSystemdPassesIt) {
    EXPECT_EQ(activation_fd("42", "1", 42), 3);
    EXPECT_EQ(activation_fd("41", "1", 42), std::nullopt); // another process's
    EXPECT_EQ(activation_fd(nullptr, "1", 42), std::nullopt);
    EXPECT_EQ(activation_fd("42", nullptr, 42), std::nullopt);
    EXPECT_EQ(activation_fd("42", "0", 42), std::nullopt);
    EXPECT_EQ(activation_fd("4x", "1", 42), std::nullopt);
    EXPECT_THROW(activation_fd("42", "2", 42), Error);
}

TEST(EngineApiServer, ServesUnixSocketsOnly) {
    EXPECT_EQ(socket_path("unix:///run/x/g.sock"), "/run/x/g.sock");
    EXPECT_EQ(socket_path("/run/x/g.sock"), "/run/x/g.sock");
    try {
        socket_path("tcp://0.0.0.0:2375");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::unsupported);
    }
    EXPECT_THROW(socket_path("unix://rel.sock"), Error);
}

// issue 73: a NUL byte (%00) in the path or a query parameter is refused before routing: the
// decoded URL is cut at it ("/containers/abc%00def" would be routed as "/containers/abc")
TEST(EngineApiRequest, RefusesANulInThePathOrAQueryParameter) {
    using namespace std::string_literals;
    try {
        check_raw_target("/v1.41/containers/abc%00def/json");
        FAIL();
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 400);
        EXPECT_NE(std::string(e.what()).find("NUL"), std::string::npos) << e.what();
    }
    EXPECT_THROW(check_raw_target("/containers/abc\0def"s), ApiError);
    EXPECT_THROW(check_raw_target("/containers/a%00"), ApiError);
    EXPECT_THROW(check_raw_target("/containers/json?all=1\0x"s), ApiError); // raw: anywhere
    EXPECT_NO_THROW(check_raw_target("/containers/abc/json?name=a%00b"));   // the query's own
    EXPECT_NO_THROW(check_raw_target("/images/a%2500b/json"));              // "%00" decoded: no NUL
    EXPECT_NO_THROW(check_raw_target("/containers/a%0Ab/json"));
    try {
        check_query_param("name", "a\0b"s);
        FAIL();
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 400);
        EXPECT_NE(std::string(e.what()).find("query parameter name"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(check_query_param("na\0me"s, "x"), ApiError);
    EXPECT_NO_THROW(check_query_param("name", "web"));
}

// issue 73: a terminal size is a winsize field (unsigned short): past it, a refusal naming h or
// w, never a size cut down (70000 was answered 200 and applied as 4464)
TEST(EngineApiRequest, RefusesATerminalSizeAWinsizeCannotHold) {
    EXPECT_EQ(query_winsize("h", "0"), 0);
    EXPECT_EQ(query_winsize("w", "65535"), 65535);
    for (const char* bad : {"65536", "70000", "-1", "4294967336", "1e3", "x", " 5", "5 ", ""}) {
        try {
            (void)query_winsize("w", bad);
            ADD_FAILURE() << bad;
        } catch (const ApiError& e) {
            EXPECT_EQ(e.status(), 400);
            EXPECT_EQ(std::string(e.what()).rfind("invalid value for w: ", 0), 0u) << e.what();
        }
    }
}

} // namespace engine_api_request_test
