// The Engine API's decoding for the image, build, archive and volume endpoints
// (engine_api/decode.hpp), and the routes and upload bounds they are served under.
#include "engine_api/decode.hpp"
#include "engine_api/request.hpp"
#include "util/nettle.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

namespace engine_api_decode_test {

using namespace gantry::engine_api;
using nlohmann::json;

TEST(EngineApiDecode, RoutesTheImageArchiveAndVolumeEndpoints) {
    EXPECT_EQ(match_route("POST", "/images/create").id, RouteId::image_create);
    auto r = match_route("POST", "/images/localhost:5000/a/b/push");
    EXPECT_EQ(r.id, RouteId::image_push);
    EXPECT_EQ(r.params.at("name"), "localhost:5000/a/b");
    EXPECT_EQ(match_route("GET", "/images/get").id, RouteId::images_get);
    EXPECT_EQ(match_route("GET", "/images/busybox:1/get").params.at("name"), "busybox:1");
    EXPECT_EQ(match_route("POST", "/images/load").id, RouteId::images_load);
    EXPECT_EQ(match_route("POST", "/build").id, RouteId::build);
    EXPECT_EQ(match_route("HEAD", "/containers/c1/archive").id, RouteId::archive_head);
    EXPECT_EQ(match_route("PUT", "/containers/c1/archive").id, RouteId::archive_put);
    EXPECT_EQ(match_route("GET", "/containers/c1/archive").id, RouteId::archive_get);
    EXPECT_EQ(match_route("POST", "/volumes/create").id, RouteId::volume_create);
    EXPECT_EQ(match_route("POST", "/volumes/prune").id, RouteId::volumes_prune);
    EXPECT_EQ(match_route("GET", "/volumes/v1").params.at("name"), "v1");
    EXPECT_EQ(match_route("DELETE", "/volumes/v1").id, RouteId::volume_delete);
    // uploads: spooled, bounded per route; other bodies stay small
    EXPECT_EQ(upload_limit(RouteId::build), kMaxBuildContextBytes);
    EXPECT_EQ(upload_limit(RouteId::images_load), kMaxUploadBytes);
    EXPECT_EQ(upload_limit(RouteId::archive_put), kMaxUploadBytes);
    EXPECT_EQ(upload_limit(RouteId::volume_create), 0u);
    EXPECT_NE(upload_too_big(RouteId::build).find("2048 MiB"), std::string::npos);
}

TEST(EngineApiDecode, ReadsXRegistryAuth) {
    EXPECT_FALSE(registry_auth(""));
    EXPECT_FALSE(registry_auth("e30=")); // {} : the docker CLI without a login
    EXPECT_FALSE(registry_auth("e30"));  // base64url, unpadded
    auto text =
        gantry::nettle::base64_encode(R"({"username":"al","password":"pw","serveraddress":"r"})");
    auto a = registry_auth(text);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->username, "al");
    EXPECT_EQ(a->password, "pw");
    EXPECT_EQ(a->server, "r");
    // base64url's alphabet: '-' and '_' for '+' and '/'
    std::string raw = R"({"identitytoken":"t>?~"})";
    auto url = gantry::nettle::base64_encode(raw);
    for (auto& c : url) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
    }
    while (!url.empty() && url.back() == '=') url.pop_back();
    a = registry_auth(url);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->identity_token, "t>?~");
    for (auto bad : {"!!!", "bm90IGpzb24=" /* not json */, "WzFd" /* [1] */})
        EXPECT_THROW(registry_auth(bad), ApiError) << bad;
    EXPECT_THROW(registry_auth(gantry::nettle::base64_encode(R"({"username":1})")), ApiError);
    EXPECT_THROW(registry_auth(gantry::nettle::base64_encode(R"({"password":"x"})")), ApiError);
    EXPECT_THROW(registry_auth(gantry::nettle::base64_encode(R"({"registrytoken":"x"})")),
                 ApiError);
}

TEST(EngineApiDecode, ReadsXRegistryConfigAsAnAuthFile) {
    EXPECT_EQ(registry_config_authfile(""), "");
    EXPECT_EQ(registry_config_authfile("e30="), "");
    auto f = registry_config_authfile(
        gantry::nettle::base64_encode(R"({"r:5000":{"username":"u","password":"p"},"x":{}})"));
    auto j = json::parse(f);
    EXPECT_EQ(j["auths"]["r:5000"]["auth"], gantry::nettle::base64_encode("u:p"));
    EXPECT_FALSE(j["auths"].contains("x"));
    EXPECT_THROW(registry_config_authfile(gantry::nettle::base64_encode(R"({"r":1})")), ApiError);
}

TEST(EngineApiDecode, NamesThePulledReference) {
    EXPECT_EQ(pull_reference("busybox", "latest"), "busybox:latest");
    EXPECT_EQ(pull_reference("r:5000/a/b", ""), "r:5000/a/b");
    EXPECT_EQ(pull_reference("a", "sha256:abc"), "a@sha256:abc");
    EXPECT_THROW(pull_reference("", "x"), ApiError);
}

TEST(EngineApiDecode, ReadsTheBuildQuery) {
    std::multimap<std::string, std::string> q{{"t", "a:1"},
                                              {"t", "b:2"},
                                              {"dockerfile", "sub/Dockerfile"},
                                              {"buildargs", R"({"V":"1"})"},
                                              {"labels", R"({"l":"x"})"},
                                              {"target", "stage"},
                                              {"nocache", "1"},
                                              {"rm", "1"},
                                              {"forcerm", "0"},
                                              {"q", "0"},
                                              {"shmsize", "0"},
                                              {"cachefrom", "[]"},
                                              {"networkmode", "default"},
                                              {"version", "1"},
                                              {"platform", ""}};
    auto b = build_query(q);
    EXPECT_EQ(b.tags, (std::vector<std::string>{"a:1", "b:2"}));
    EXPECT_EQ(b.dockerfile, "sub/Dockerfile");
    EXPECT_EQ(b.build_args.at("V"), "1");
    EXPECT_EQ(b.labels.at("l"), "x");
    EXPECT_EQ(b.target, "stage");
    EXPECT_TRUE(b.no_cache);
    EXPECT_FALSE(b.pull);
    EXPECT_FALSE(b.quiet);
    EXPECT_EQ(build_query({}).dockerfile, "Dockerfile");
    EXPECT_EQ(build_query({{"platform", "linux/arm64"}}).platform, "linux/arm64"); // --platform
    // rm=0 (docker-py's default): no intermediate containers to keep, so it is accepted
    EXPECT_EQ(build_query({{"rm", "0"}}).dockerfile, "Dockerfile");
    // what gantry does not honour, with a value other than docker's default: a 400 naming it
    for (auto [k, v] :
         std::vector<std::pair<std::string, std::string>>{{"shmsize", "1024"},
                                                          {"memory", "1000000"},
                                                          {"squash", "1"},
                                                          {"networkmode", "none"},
                                                          {"version", "2"},
                                                          {"extrahosts", "a:1.2.3.4"},
                                                          {"bogus", "x"},
                                                          {"buildargs", R"({"V":null})"},
                                                          {"buildargs", "[1]"},
                                                          {"labels", R"({"l":1})"}}) {
        try {
            build_query({{k, v}});
            ADD_FAILURE() << k << "=" << v << " was accepted";
        } catch (const ApiError& e) {
            EXPECT_EQ(e.status(), 400);
            EXPECT_NE(std::string(e.what()).find(k), std::string::npos) << e.what();
        }
    }
}

TEST(EngineApiDecode, ReadsAVolumesCreateBody) {
    auto s = volume_spec(R"({"Name":"v1","Driver":"local","DriverOpts":{},"Labels":{"a":"b"}})");
    EXPECT_EQ(s.name, "v1");
    EXPECT_EQ(s.labels.at("a"), "b");
    EXPECT_EQ(volume_spec("").name, "");
    EXPECT_EQ(volume_spec(R"({"Name":"","Labels":null})").name, "");
    for (auto bad :
         {"[", R"({"Driver":"nfs"})", R"({"DriverOpts":{"type":"tmpfs"}})", R"({"Name":"../x"})",
          R"({"Name":"a"})", R"({"Name":1})", R"({"Other":1})", R"({"Labels":{"a":1}})"})
        EXPECT_THROW(volume_spec(bad), ApiError) << bad;
}

// A ustar header block for NAME of TYPE (with the checksum).
std::string tar_header(const std::string& name, char type, std::size_t size,
                       const std::string& link = "") {
    std::string h(512, '\0');
    std::copy(name.begin(), name.end(), h.begin());
    std::snprintf(h.data() + 100, 8, "%07o", 0755);
    std::snprintf(h.data() + 124, 12, "%011zo", size);
    std::snprintf(h.data() + 136, 12, "%011o", 1700000000);
    h[156] = type;
    std::copy(link.begin(), link.end(), h.begin() + 157);
    std::memcpy(h.data() + 257, "ustar", 6);
    std::fill(h.begin() + 148, h.begin() + 156, ' ');
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(h.data() + 148, 8, "%06o", sum);
    return h;
}

TEST(EngineApiDecode, StatsThePathFromTheTarsFirstEntry) {
    auto s = tar_first_entry(tar_header("etc/", '5', 0));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->name, "etc");
    EXPECT_TRUE(S_ISDIR(s->mode));
    EXPECT_EQ(s->mode & 0777, 0755u);
    EXPECT_EQ(s->mtime_ns, 1700000000'000000000LL);
    EXPECT_EQ(go_file_mode(s->mode), (1u << 31) | 0755u);
    s = tar_first_entry(tar_header("hosts", '0', 12));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->size, 12);
    EXPECT_TRUE(S_ISREG(s->mode));
    s = tar_first_entry(tar_header("l", '2', 0, "/target"));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->link_target, "/target");
    EXPECT_EQ(go_file_mode(s->mode) & (1u << 27), 1u << 27);
    // a pax header's path wins
    std::string rec = "20 path=a/very/long\n";
    std::string pax = tar_header("PaxHeader", 'x', rec.size()) + rec;
    pax.resize(1024, '\0');
    s = tar_first_entry(pax + tar_header("short", '0', 1));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->name, "long");
    // too short yet: nothing; not a tar: 500
    EXPECT_FALSE(tar_first_entry(std::string(100, 'x')));
    EXPECT_FALSE(tar_first_entry(pax));
    EXPECT_THROW(tar_first_entry(std::string(512, 'x')), ApiError);
    EXPECT_THROW(tar_first_entry(std::string(512, '\0')), ApiError);
    // the header docker's client decodes
    PathStat p{"f", "", 3, S_IFREG | 0644, 0};
    auto j = json::parse(*gantry::nettle::base64_decode(path_stat_header(p)));
    EXPECT_EQ(j["name"], "f");
    EXPECT_EQ(j["size"], 3);
    EXPECT_EQ(j["mode"], 0644);
    EXPECT_EQ(j["mtime"], "1970-01-01T00:00:00Z");
    // a name and a link target that are not UTF-8: U+FFFD for each invalid byte, as Go writes
    // them (the fuzzer's find: nlohmann threw, and the request died with it)
    PathStat odd{"a\x8e\xffz", "t\xc3", 0, S_IFLNK | 0777, 0};
    j = json::parse(*gantry::nettle::base64_decode(path_stat_header(odd)));
    EXPECT_EQ(j["name"], "a\xef\xbf\xbd\xef\xbf\xbdz");
    EXPECT_EQ(j["linkTarget"], "t\xef\xbf\xbd");
}

} // namespace engine_api_decode_test
