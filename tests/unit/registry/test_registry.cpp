// registry/: WWW-Authenticate parsing, base64, auth files (gantry's own, docker's), registry
// error documents, platform choice from an index.
#include "oci/image.hpp"
#include "registry/auth.hpp"
#include "registry/client.hpp"
#include "registry/pull.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstdlib>
#include <filesystem>
#include <gtest/gtest.h>
#include <sys/stat.h>

namespace registry_test {

using namespace gantry;
using namespace gantry::registry;
namespace stdfs = std::filesystem;

TEST(RegistryChallenge, BearerWithQuotedCommas) {
    auto c = parse_challenges(
        R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push")");
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].scheme, "bearer");
    EXPECT_EQ(c[0].param("realm"), "https://auth.example.com/token");
    EXPECT_EQ(c[0].param("service"), "registry.example.com");
    EXPECT_EQ(c[0].param("scope"), "repository:a/b:pull,push");
}

TEST(RegistryChallenge, BasicAndSeveralChallenges) {
    auto c = parse_challenges(
        R"(Basic realm="Registry Realm", Bearer realm="http://t/x", error="insufficient_scope")");
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(c[0].scheme, "basic");
    EXPECT_EQ(c[0].param("realm"), "Registry Realm");
    EXPECT_EQ(c[1].scheme, "bearer");
    EXPECT_EQ(c[1].param("error"), "insufficient_scope");
    EXPECT_EQ(parse_challenges("Basic").at(0).scheme, "basic");
}

TEST(RegistryChallenge, MalformedGivesNothing) {
    EXPECT_TRUE(parse_challenges(R"(Bearer realm="unterminated)").empty());
    EXPECT_TRUE(parse_challenges("").empty());
    EXPECT_TRUE(parse_challenges("=x").empty());
}

TEST(RegistryBase64, RoundTripAndErrors) {
    EXPECT_EQ(base64_encode("alice:s3cret"), "YWxpY2U6czNjcmV0");
    EXPECT_EQ(base64_decode("YWxpY2U6czNjcmV0").value(), "alice:s3cret");
    EXPECT_EQ(base64_decode("").value(), "");
    EXPECT_FALSE(base64_decode("not*base64").has_value());
}

TEST(RegistryErrors, ErrorDocument) {
    EXPECT_EQ(
        registry_error_text(
            R"({"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]})"),
        "NAME_UNKNOWN: repository name not known to registry");
    EXPECT_EQ(registry_error_text("<html>oops</html>"), "");
    EXPECT_EQ(registry_error_text(R"({"errors":"x"})"), "");
}

class RegistryAuthFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = stdfs::temp_directory_path() / ("gantry-auth-" + fs::unique_name());
        stdfs::create_directories(dir_ / "home");
        for (const char* v : {"HOME", "XDG_CONFIG_HOME", "GANTRY_AUTH_FILE", "REGISTRY_AUTH_FILE",
                              "XDG_RUNTIME_DIR", "DOCKER_CONFIG"}) {
            const char* old = std::getenv(v);
            saved_.emplace_back(v, old ? std::optional<std::string>(old) : std::nullopt);
            ::unsetenv(v);
        }
        ::setenv("HOME", (dir_ / "home").c_str(), 1);
    }
    void TearDown() override {
        for (auto& [k, v] : saved_) {
            if (v)
                ::setenv(k.c_str(), v->c_str(), 1);
            else
                ::unsetenv(k.c_str());
        }
        stdfs::remove_all(dir_);
    }
    stdfs::path dir_;
    std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(RegistryAuthFiles, StoreFindRemoveWithMode0600) {
    EXPECT_FALSE(find_credentials("reg.example:5000").has_value());
    store_credentials("reg.example:5000", {"alice", "pw:with:colons", ""});
    auto path = dir_ / "home/.config/gantry/auth.json";
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto c = find_credentials("reg.example:5000");
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->username, "alice");
    EXPECT_EQ(c->password, "pw:with:colons");
    EXPECT_EQ(c->source, path.string());
    EXPECT_FALSE(find_credentials("other.example").has_value());
    EXPECT_TRUE(remove_credentials("reg.example:5000"));
    EXPECT_FALSE(remove_credentials("reg.example:5000"));
    EXPECT_FALSE(find_credentials("reg.example:5000").has_value());
}

TEST_F(RegistryAuthFiles, DockerConfigIsReadWithHubAliases) {
    stdfs::create_directories(dir_ / "home/.docker");
    fs::write_atomic(dir_ / "home/.docker/config.json",
                     R"({"auths":{"https://index.docker.io/v1/":{"auth":")" +
                         base64_encode("bob:pw") + R"("}}})");
    auto c = find_credentials("docker.io");
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->username, "bob");
    // gantry's own file wins over docker's
    store_credentials("docker.io", {"carol", "x", ""});
    EXPECT_EQ(find_credentials("docker.io")->username, "carol");
    EXPECT_EQ(remove_all_credentials(), 1u);
    EXPECT_EQ(find_credentials("docker.io")->username, "bob");
}

TEST_F(RegistryAuthFiles, BrokenEntriesAreNamed) {
    stdfs::create_directories(dir_ / "home/.docker");
    fs::write_atomic(dir_ / "home/.docker/config.json",
                     R"({"auths":{"r.example":{"auth":"bm9jb2xvbg=="}}})");
    try {
        find_credentials("r.example");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find("config.json"), std::string::npos);
    }
    fs::write_atomic(dir_ / "home/.docker/config.json", "[1,2]");
    EXPECT_THROW(find_credentials("r.example"), Error);
}

TEST(RegistryPlatform, ChoosesLikeLoad) {
    auto idx = oci::Index::parse(
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" +
        std::string(64, 'a') + R"(","size":1,"platform":{"os":"linux","architecture":"amd64"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" +
        std::string(64, 'b') +
        R"(","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]})");
    EXPECT_EQ(choose_platform(idx, oci::Platform::parse("linux/arm64"), "x").digest.hex(),
              std::string(64, 'b'));
    EXPECT_EQ(choose_platform(idx, oci::Platform::parse("linux/amd64"), "x").digest.hex(),
              std::string(64, 'a'));
    try {
        choose_platform(idx, oci::Platform::parse("linux/s390x"), "image x");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
        EXPECT_NE(e.message().find("linux/amd64, linux/arm64/v8"), std::string::npos);
    }
}

} // namespace registry_test
