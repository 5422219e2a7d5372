// OCI image indexes and Docker manifest lists, and image configs (OCI and Docker): parsing,
// platforms, defaults, the JSON round trip, and the fields errors name.
#include "image_test_support.hpp"
#include "oci/image.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>

namespace oci_image_index_config_test {

using namespace oci_image_test;
using gantry::Errc;
using gantry::oci::ImageConfig;
using gantry::oci::Index;
using gantry::oci::json;
namespace media = gantry::oci::media;

// --- indexes ---------------------------------------------------------------------------------

TEST(Index, ParsesOciWithPlatforms) {
    json doc = {
        {"schemaVersion", 2},
        {"mediaType", media::oci_index},
        {"manifests",
         {{{"mediaType", media::oci_manifest},
           {"digest", kA},
           {"size", 500},
           {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}},
          {{"mediaType", media::oci_manifest},
           {"digest", kB},
           {"size", 501},
           {"platform", {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}}}},
          {{"mediaType", media::oci_manifest},
           {"digest", kC},
           {"size", 502},
           {"platform",
            {{"os", "windows"}, {"architecture", "amd64"}, {"os.version", "10.0.17763.1"}}}}}},
        {"annotations", {{"k", "v"}}}};
    Index idx = Index::parse(doc.dump());
    EXPECT_EQ(idx.media_type, media::oci_index);
    ASSERT_EQ(idx.manifests.size(), 3u);
    ASSERT_TRUE(idx.manifests[0].platform);
    EXPECT_EQ(idx.manifests[0].platform->str(), "linux/amd64");
    ASSERT_TRUE(idx.manifests[1].platform);
    EXPECT_EQ(idx.manifests[1].platform->variant, "v8");
    EXPECT_EQ(idx.manifests[1].platform->str(), "linux/arm64/v8");
    ASSERT_TRUE(idx.manifests[2].platform);
    EXPECT_EQ(idx.manifests[2].platform->os, "windows");
    EXPECT_EQ(idx.manifests[2].platform->os_version, "10.0.17763.1");
    EXPECT_EQ(idx.manifests[2].digest.str(), kC);
    EXPECT_EQ(idx.manifests[2].size, 502);
    EXPECT_EQ(idx.annotations.at("k"), "v");

    // Round trip through to_json.
    json out = idx.to_json();
    EXPECT_EQ(out, doc);
    Index again = Index::parse(out.dump());
    ASSERT_EQ(again.manifests.size(), 3u);
    EXPECT_EQ(again.manifests[2].platform->os_version, "10.0.17763.1");
    EXPECT_EQ(again.to_json(), out);
}

TEST(Index, ParsesDockerListAndDefaults) {
    json doc = {
        {"schemaVersion", 2},
        {"mediaType", media::docker_list},
        {"manifests", {{{"mediaType", media::docker_manifest}, {"digest", kA}, {"size", 1}}}}};
    Index idx = Index::parse(doc.dump());
    EXPECT_EQ(idx.media_type, media::docker_list);
    ASSERT_EQ(idx.manifests.size(), 1u);
    EXPECT_FALSE(idx.manifests[0].platform);

    doc.erase("mediaType");
    EXPECT_EQ(Index::parse(doc.dump()).media_type, media::oci_index);
    EXPECT_EQ(Index::parse(doc.dump(), media::docker_list).media_type, media::docker_list);
}

TEST(Index, RefusesManifestsAndMissingFields) {
    json m = manifest_doc(media::oci_manifest, media::oci_config, media::oci_layer);
    auto f = failure_of([&] { Index::parse(m.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, media::oci_manifest)) << f->message;

    json doc = {{"schemaVersion", 2}, {"mediaType", media::oci_index}};
    f = failure_of([&] { Index::parse(doc.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "\"manifests\"")) << f->message;

    doc["manifests"] = {{{"digest", kA}}};
    f = failure_of([&] { Index::parse(doc.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "\"size\"")) << f->message;
    EXPECT_TRUE(contains(f->message, "entry 0")) << f->message;

    f = failure_of([&] { Index::parse("[1,2]"); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);

    f = failure_of([&] { Index::parse("nope"); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "not valid JSON")) << f->message;
}

// --- image configs ---------------------------------------------------------------------------

TEST(ImageConfig, ParsesOci) {
    json doc = {{"created", "2024-01-02T03:04:05Z"},
                {"architecture", "arm64"},
                {"os", "linux"},
                {"variant", "v8"},
                {"config", {{"Env", {"PATH=/bin"}}, {"Cmd", {"sh"}}}},
                {"rootfs", {{"type", "layers"}, {"diff_ids", {kA, kB}}}},
                {"history",
                 {{{"created", "2024-01-01T00:00:00Z"}, {"created_by", "ADD file"}},
                  {{"created_by", "CMD [\"sh\"]"}, {"empty_layer", true}, {"comment", "c"}},
                  "not an object"}}};
    ImageConfig c = ImageConfig::parse(doc.dump());
    EXPECT_EQ(c.platform.os, "linux");
    EXPECT_EQ(c.platform.architecture, "arm64");
    EXPECT_EQ(c.platform.variant, "v8");
    EXPECT_EQ(c.created, "2024-01-02T03:04:05Z");
    ASSERT_EQ(c.diff_ids.size(), 2u);
    EXPECT_EQ(c.diff_ids[0].str(), kA);
    EXPECT_EQ(c.diff_ids[1].str(), kB);
    ASSERT_EQ(c.history.size(), 2u); // the non-object entry is skipped
    EXPECT_EQ(c.history[0].created, "2024-01-01T00:00:00Z");
    EXPECT_EQ(c.history[0].created_by, "ADD file");
    EXPECT_FALSE(c.history[0].empty_layer);
    EXPECT_TRUE(c.history[1].empty_layer);
    EXPECT_EQ(c.history[1].comment, "c");
    EXPECT_EQ(c.raw["config"]["Cmd"][0], "sh");
}

TEST(ImageConfig, ParsesDocker) {
    // Docker writes nulls for absent values and extra fields gantry ignores.
    json doc = {{"architecture", "amd64"},
                {"os", "linux"},
                {"variant", nullptr},
                {"container_config", {{"Cmd", nullptr}}},
                {"docker_version", "24.0.7"},
                {"config", {{"Entrypoint", nullptr}, {"Cmd", {"/bin/sh"}}}},
                {"rootfs", {{"type", "layers"}, {"diff_ids", {kC}}}}};
    ImageConfig c = ImageConfig::parse(doc.dump());
    EXPECT_EQ(c.platform.str(), "linux/amd64");
    EXPECT_EQ(c.platform.variant, "");
    EXPECT_EQ(c.created, "");
    ASSERT_EQ(c.diff_ids.size(), 1u);
    EXPECT_EQ(c.diff_ids[0].str(), kC);
    EXPECT_TRUE(c.history.empty());
}

// A number beyond a double is nlohmann's out_of_range, not its parse_error: it was escaping
// parse_json as an internal error (found by fuzz/fuzz_auth_file: an auth file holding
// 22222222222e222222222). The largest finite double is the near miss.
TEST(ImageConfig, NumberTooLargeForADoubleIsInvalidJson) {
    const std::string head =
        R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"x":)";
    for (const char* big : {"1e999", "-1e400", "22222222222e222222222"}) {
        auto f = failure_of([&] { ImageConfig::parse(head + big + "}"); });
        ASSERT_TRUE(f) << big;
        EXPECT_EQ(f->code, Errc::invalid);
        EXPECT_TRUE(contains(f->message, "not valid JSON")) << f->message;
        EXPECT_TRUE(contains(f->message, "number overflow")) << f->message;
    }
    EXPECT_EQ(ImageConfig::parse(head + "1.7976931348623157e308}").raw["x"].get<double>(),
              1.7976931348623157e308);
}

TEST(ImageConfig, MissingOrWrongFieldsAreNamed) {
    auto f = failure_of([] { ImageConfig::parse(json{{"os", "linux"}}.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "\"rootfs\"")) << f->message;

    f = failure_of([] { ImageConfig::parse(json{{"rootfs", {{"type", "layers"}}}}.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "\"diff_ids\"")) << f->message;

    f = failure_of([] { ImageConfig::parse(json{{"rootfs", {{"diff_ids", "sha256:x"}}}}.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "\"diff_ids\"")) << f->message;

    f = failure_of([] { ImageConfig::parse(json{{"rootfs", {{"diff_ids", {1}}}}}.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "diff_ids")) << f->message;

    f = failure_of([] {
        ImageConfig::parse(json{{"rootfs", {{"diff_ids", {"sha256:12"}}}}}.dump());
    });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);

    f = failure_of([] {
        ImageConfig::parse(json{{"os", 5}, {"rootfs", {{"diff_ids", json::array()}}}}.dump());
    });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "\"os\"")) << f->message;

    f = failure_of([] { ImageConfig::parse("[]"); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);

    f = failure_of([] { ImageConfig::parse("{"); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "config")) << f->message;
}
} // namespace oci_image_index_config_test
