// OCI / Docker schema 2 documents: manifests, indexes, image configs, layer media types,
// compression sniffing and platforms.
#include "oci/image.hpp"
#include "util/error.hpp"

#include <functional>
#include <gtest/gtest.h>
#include <optional>
#include <string>

namespace oci_image_test {

using gantry::Errc;
using gantry::Error;
using gantry::oci::Compression;
using gantry::oci::Descriptor;
using gantry::oci::Digest;
using gantry::oci::ImageConfig;
using gantry::oci::Index;
using gantry::oci::json;
using gantry::oci::layer_compression;
using gantry::oci::Manifest;
using gantry::oci::Platform;
using gantry::oci::sniff_compression;
namespace media = gantry::oci::media;

namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

struct Failure {
    Errc code;
    std::string message;
    std::string hint;
};

template <typename F>
std::optional<Failure> failure_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return Failure{e.code(), e.message(), e.hint()};
    }
    return std::nullopt;
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// A minimal manifest document with one layer.
json manifest_doc(const char* mt, const char* config_mt, const char* layer_mt) {
    json j;
    j["schemaVersion"] = 2;
    if (mt) j["mediaType"] = mt;
    j["config"] = {{"mediaType", config_mt}, {"digest", kA}, {"size", 7}};
    j["layers"] = json::array({json{{"mediaType", layer_mt}, {"digest", kB}, {"size", 1234}}});
    return j;
}

} // namespace

// --- manifests -------------------------------------------------------------------------------

TEST(Manifest, ParsesOci) {
    json doc = manifest_doc(media::oci_manifest, media::oci_config, media::oci_layer_gzip);
    doc["annotations"] = {{"org.opencontainers.image.title", "demo"}};
    Manifest m = Manifest::parse(doc.dump());
    EXPECT_EQ(m.media_type, media::oci_manifest);
    EXPECT_EQ(m.config.media_type, media::oci_config);
    EXPECT_EQ(m.config.digest.str(), kA);
    EXPECT_EQ(m.config.size, 7);
    ASSERT_EQ(m.layers.size(), 1u);
    EXPECT_EQ(m.layers[0].media_type, media::oci_layer_gzip);
    EXPECT_EQ(m.layers[0].digest.str(), kB);
    EXPECT_EQ(m.layers[0].size, 1234);
    EXPECT_EQ(m.annotations.at("org.opencontainers.image.title"), "demo");
}

TEST(Manifest, ParsesDocker) {
    json doc = manifest_doc(media::docker_manifest, media::docker_config, media::docker_layer_gzip);
    Manifest m = Manifest::parse(doc.dump());
    EXPECT_EQ(m.media_type, media::docker_manifest);
    EXPECT_EQ(m.config.media_type, media::docker_config);
    ASSERT_EQ(m.layers.size(), 1u);
    EXPECT_EQ(m.layers[0].media_type, media::docker_layer_gzip);
}

TEST(Manifest, MediaTypeFromHintOrDefault) {
    json doc = manifest_doc(nullptr, media::docker_config, media::docker_layer);
    EXPECT_EQ(Manifest::parse(doc.dump(), media::docker_manifest).media_type,
              media::docker_manifest);
    // OCI allows omitting mediaType.
    EXPECT_EQ(Manifest::parse(doc.dump()).media_type, media::oci_manifest);
    // The document's own mediaType wins over the hint.
    json oci = manifest_doc(media::oci_manifest, media::oci_config, media::oci_layer);
    EXPECT_EQ(Manifest::parse(oci.dump(), media::docker_manifest).media_type, media::oci_manifest);
}

TEST(Manifest, EmptyLayersAndDescriptorExtras) {
    json doc = manifest_doc(media::oci_manifest, media::oci_config, media::oci_layer);
    doc["layers"] = json::array();
    doc["config"]["annotations"] = {{"k", "v"}};
    doc["config"]["urls"] = {"https://example.com/blob"};
    Manifest m = Manifest::parse(doc.dump());
    EXPECT_TRUE(m.layers.empty());
    EXPECT_EQ(m.config.annotations.at("k"), "v");
    ASSERT_EQ(m.config.urls.size(), 1u);
    EXPECT_EQ(m.config.urls[0], "https://example.com/blob");
}

TEST(Manifest, RefusesSchema1) {
    // Declared by mediaType.
    json v1 = {{"schemaVersion", 1},
               {"name", "library/busybox"},
               {"tag", "latest"},
               {"fsLayers", json::array()}};
    for (const char* mt : {media::docker_schema1, media::docker_schema1_signed}) {
        json doc = v1;
        doc["mediaType"] = mt;
        auto f = failure_of([&] { Manifest::parse(doc.dump()); });
        ASSERT_TRUE(f) << mt;
        EXPECT_EQ(f->code, Errc::unsupported);
        EXPECT_TRUE(contains(f->message, "schema 1")) << f->message;
        EXPECT_TRUE(contains(f->hint, "skopeo")) << f->hint;
    }
    // Only by schemaVersion (real schema 1 documents carry no mediaType).
    auto f = failure_of([&] { Manifest::parse(v1.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::unsupported);
    EXPECT_TRUE(contains(f->hint, "skopeo")) << f->hint;
    // Only by the hint (the registry's Content-Type).
    json bare = {{"name", "x"}};
    f = failure_of([&] { Manifest::parse(bare.dump(), media::docker_schema1_signed); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::unsupported);
    EXPECT_TRUE(contains(f->hint, "skopeo")) << f->hint;
    // An index parser refuses it the same way.
    f = failure_of([&] { Index::parse(v1.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::unsupported);
    EXPECT_TRUE(contains(f->hint, "skopeo")) << f->hint;
}

TEST(Manifest, RefusesIndexAndUnknownMediaTypes) {
    json idx = {
        {"schemaVersion", 2}, {"mediaType", media::oci_index}, {"manifests", json::array()}};
    auto f = failure_of([&] { Manifest::parse(idx.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "index")) << f->message;

    f = failure_of([&] { Manifest::parse(idx.dump(), media::docker_list); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);

    json odd =
        manifest_doc("application/vnd.example.thing+json", media::oci_config, media::oci_layer);
    f = failure_of([&] { Manifest::parse(odd.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::unsupported);
    EXPECT_TRUE(contains(f->message, "application/vnd.example.thing+json")) << f->message;
}

TEST(Manifest, NotJson) {
    for (const char* text : {"", "{", "not json", "{\"a\":}"}) {
        auto f = failure_of([&] { Manifest::parse(text); });
        ASSERT_TRUE(f) << text;
        EXPECT_EQ(f->code, Errc::invalid);
        EXPECT_TRUE(contains(f->message, "not valid JSON")) << f->message;
        EXPECT_TRUE(contains(f->message, "manifest")) << f->message;
    }
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

TEST(Manifest, MissingOrWrongFieldsAreNamed) {
    struct Case {
        const char* what;
        std::function<void(json&)> mutate;
        std::string field;
    };
    const Case cases[] = {
        {"no config", [](json& j) { j.erase("config"); }, "\"config\""},
        {"no layers", [](json& j) { j.erase("layers"); }, "\"layers\""},
        {"config digest", [](json& j) { j["config"].erase("digest"); }, "\"digest\""},
        {"config size", [](json& j) { j["config"].erase("size"); }, "\"size\""},
        {"layer digest", [](json& j) { j["layers"][0].erase("digest"); }, "\"digest\""},
        {"layer size", [](json& j) { j["layers"][0].erase("size"); }, "\"size\""},
        {"layers not array", [](json& j) { j["layers"] = "x"; }, "\"layers\""},
        {"config not object", [](json& j) { j["config"] = json::array(); }, "\"config\""},
        {"size is string", [](json& j) { j["layers"][0]["size"] = "12"; }, "\"size\""},
        {"digest is number", [](json& j) { j["config"]["digest"] = 5; }, "\"digest\""},
    };
    for (const auto& c : cases) {
        json doc = manifest_doc(media::oci_manifest, media::oci_config, media::oci_layer);
        c.mutate(doc);
        auto f = failure_of([&] { Manifest::parse(doc.dump()); });
        ASSERT_TRUE(f) << c.what;
        EXPECT_EQ(f->code, Errc::invalid) << c.what;
        EXPECT_TRUE(contains(f->message, c.field)) << c.what << ": " << f->message;
    }
    // The layer's position is named too.
    json doc = manifest_doc(media::oci_manifest, media::oci_config, media::oci_layer);
    doc["layers"].push_back(json{{"mediaType", media::oci_layer}, {"digest", kC}});
    auto f = failure_of([&] { Manifest::parse(doc.dump()); });
    ASSERT_TRUE(f);
    EXPECT_TRUE(contains(f->message, "layer 1")) << f->message;
}

TEST(Manifest, BadDescriptorValues) {
    json doc = manifest_doc(media::oci_manifest, media::oci_config, media::oci_layer);
    doc["layers"][0]["size"] = -1;
    auto f = failure_of([&] { Manifest::parse(doc.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "negative")) << f->message;

    doc = manifest_doc(media::oci_manifest, media::oci_config, media::oci_layer);
    doc["layers"][0]["digest"] = "sha256:1234";
    f = failure_of([&] { Manifest::parse(doc.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);

    doc = manifest_doc(media::oci_manifest, media::oci_config, media::oci_layer);
    doc["config"]["digest"] = "sha512:" + std::string(128, 'a');
    f = failure_of([&] { Manifest::parse(doc.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::unsupported);

    doc = manifest_doc(media::oci_manifest, media::oci_config, media::oci_layer);
    doc["annotations"] = {{"k", 1}};
    f = failure_of([&] { Manifest::parse(doc.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "\"k\"")) << f->message;

    doc = manifest_doc(media::oci_manifest, media::oci_config, media::oci_layer);
    doc["annotations"] = json::array();
    f = failure_of([&] { Manifest::parse(doc.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);

    doc = manifest_doc(media::oci_manifest, media::oci_config, media::oci_layer);
    doc["layers"][0]["mediaType"] = 3;
    f = failure_of([&] { Manifest::parse(doc.dump()); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "mediaType")) << f->message;
}

TEST(Manifest, ToJsonRoundTrip) {
    json doc = manifest_doc(media::docker_manifest, media::docker_config, media::docker_layer_gzip);
    doc["layers"].push_back(json{{"mediaType", media::docker_layer},
                                 {"digest", kC},
                                 {"size", 0},
                                 {"annotations", {{"a", "b"}}},
                                 {"urls", {"https://x/y"}}});
    doc["annotations"] = {{"created", "now"}};
    Manifest m = Manifest::parse(doc.dump());
    json out = m.to_json();
    EXPECT_EQ(out["schemaVersion"], 2);
    EXPECT_EQ(out["mediaType"], media::docker_manifest);
    Manifest m2 = Manifest::parse(out.dump());
    EXPECT_EQ(m2.media_type, m.media_type);
    EXPECT_EQ(m2.config.digest, m.config.digest);
    EXPECT_EQ(m2.config.size, m.config.size);
    EXPECT_EQ(m2.config.media_type, m.config.media_type);
    ASSERT_EQ(m2.layers.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(m2.layers[i].media_type, m.layers[i].media_type);
        EXPECT_EQ(m2.layers[i].digest, m.layers[i].digest);
        EXPECT_EQ(m2.layers[i].size, m.layers[i].size);
        EXPECT_EQ(m2.layers[i].annotations, m.layers[i].annotations);
        EXPECT_EQ(m2.layers[i].urls, m.layers[i].urls);
    }
    EXPECT_EQ(m2.annotations, m.annotations);
    EXPECT_EQ(m2.to_json(), out);
    // The original document and the re-serialised one are the same JSON.
    EXPECT_EQ(out, doc);
}

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

// --- layer media types and compression -------------------------------------------------------

TEST(LayerCompression, KnownMediaTypes) {
    EXPECT_EQ(layer_compression(media::oci_layer), Compression::none);
    EXPECT_EQ(layer_compression(media::oci_layer_gzip), Compression::gzip);
    EXPECT_EQ(layer_compression(media::oci_layer_zstd), Compression::zstd);
    EXPECT_EQ(layer_compression(media::docker_layer), Compression::none);
    EXPECT_EQ(layer_compression(media::docker_layer_gzip), Compression::gzip);
    EXPECT_STREQ(gantry::oci::to_string(Compression::none), "none");
    EXPECT_STREQ(gantry::oci::to_string(Compression::gzip), "gzip");
    EXPECT_STREQ(gantry::oci::to_string(Compression::zstd), "zstd");
}

TEST(LayerCompression, ForeignLayersAreUnsupported) {
    for (const char* mt :
         {media::docker_foreign_layer, "application/vnd.oci.image.layer.nondistributable.v1.tar",
          "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
          "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"}) {
        auto f = failure_of([&] { (void)layer_compression(mt); });
        ASSERT_TRUE(f) << mt;
        EXPECT_EQ(f->code, Errc::unsupported) << mt;
        EXPECT_TRUE(contains(f->message, "foreign")) << f->message;
        EXPECT_TRUE(contains(f->message, mt)) << f->message;
        EXPECT_FALSE(f->hint.empty());
    }
}

TEST(LayerCompression, UnknownMediaTypesAreRefused) {
    // docs/exit-codes.md: an unknown media type is "unsupported" (exit 7).
    for (const char* mt : {"", "application/octet-stream", media::oci_config, media::oci_manifest,
                           "application/vnd.oci.image.layer.v1.tar+bzip2",
                           "application/vnd.docker.image.rootfs.diff.tar.zstd",
                           "application/vnd.oci.image.layer.v1.tar+gzip+encrypted"}) {
        auto f = failure_of([&] { (void)layer_compression(mt); });
        ASSERT_TRUE(f) << mt;
        EXPECT_EQ(f->code, Errc::unsupported) << mt;
        EXPECT_TRUE(contains(f->message, "\"" + std::string(mt) + "\"")) << f->message;
    }
}

TEST(SniffCompression, MagicBytes) {
    const unsigned char gz[] = {0x1f, 0x8b, 0x08, 0x00};
    const unsigned char zst[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00};
    const unsigned char tar[] = {'e', 't', 'c', '/', 0};
    EXPECT_EQ(sniff_compression(gz, sizeof gz), Compression::gzip);
    EXPECT_EQ(sniff_compression(gz, 2), Compression::gzip);
    EXPECT_EQ(sniff_compression(gz, 1), Compression::none);
    EXPECT_EQ(sniff_compression(zst, sizeof zst), Compression::zstd);
    EXPECT_EQ(sniff_compression(zst, 4), Compression::zstd);
    EXPECT_EQ(sniff_compression(zst, 3), Compression::none);
    EXPECT_EQ(sniff_compression(tar, sizeof tar), Compression::none);
    EXPECT_EQ(sniff_compression(nullptr, 0), Compression::none);
    const unsigned char almost[] = {0x28, 0xb5, 0x2f, 0xfe};
    EXPECT_EQ(sniff_compression(almost, sizeof almost), Compression::none);
}

TEST(MediaTypes, Classification) {
    EXPECT_TRUE(media::is_index(media::oci_index));
    EXPECT_TRUE(media::is_index(media::docker_list));
    EXPECT_FALSE(media::is_index(media::oci_manifest));
    EXPECT_TRUE(media::is_manifest(media::oci_manifest));
    EXPECT_TRUE(media::is_manifest(media::docker_manifest));
    EXPECT_FALSE(media::is_manifest(media::docker_schema1));
    EXPECT_FALSE(media::is_manifest(media::oci_index));
    EXPECT_EQ(gantry::oci::declared_media_type(json{{"mediaType", "x"}}), "x");
    EXPECT_EQ(gantry::oci::declared_media_type(json{{"mediaType", 1}}), "");
    EXPECT_EQ(gantry::oci::declared_media_type(json::array()), "");
}

// --- platforms -------------------------------------------------------------------------------

TEST(Platform, Parse) {
    Platform p = Platform::parse("linux/arm64/v8");
    EXPECT_EQ(p.os, "linux");
    EXPECT_EQ(p.architecture, "arm64");
    EXPECT_EQ(p.variant, "v8");
    EXPECT_EQ(p.str(), "linux/arm64/v8");

    p = Platform::parse("arm64");
    EXPECT_EQ(p.os, "linux");
    EXPECT_EQ(p.architecture, "arm64");
    EXPECT_EQ(p.variant, "");
    EXPECT_EQ(p.str(), "linux/arm64");

    EXPECT_EQ(Platform::parse("x86_64").str(), "linux/amd64");
    EXPECT_EQ(Platform::parse("linux/x86_64").str(), "linux/amd64");
    EXPECT_EQ(Platform::parse("linux/aarch64").str(), "linux/arm64");
    EXPECT_EQ(Platform::parse("linux/amd64").str(), "linux/amd64");
    EXPECT_EQ(Platform::parse("windows/amd64").os, "windows");
    EXPECT_EQ(Platform::parse("linux/arm/v7").str(), "linux/arm/v7");
}

TEST(Platform, ParseRejectsBadInput) {
    for (const char* text : {"", "/", "linux/", "/amd64", "linux//v8", "linux/arm64/",
                             "linux/arm64/v8/extra", "a/b/c/d", "//"}) {
        auto f = failure_of([&] { (void)Platform::parse(text); });
        ASSERT_TRUE(f) << "\"" << text << "\"";
        EXPECT_EQ(f->code, Errc::usage) << text;
        EXPECT_TRUE(contains(f->message, "\"" + std::string(text) + "\"")) << f->message;
        EXPECT_TRUE(contains(f->hint, "linux/amd64")) << f->hint;
    }
}

TEST(Platform, Accepts) {
    auto P = [](const char* s) { return Platform::parse(s); };
    EXPECT_TRUE(P("linux/amd64").accepts(P("linux/amd64")));
    EXPECT_FALSE(P("linux/amd64").accepts(P("linux/arm64")));
    EXPECT_FALSE(P("linux/amd64").accepts(P("windows/amd64")));
    // Variants are compared only when both are set.
    EXPECT_TRUE(P("linux/arm64/v8").accepts(P("linux/arm64")));
    EXPECT_TRUE(P("linux/arm64").accepts(P("linux/arm64/v8")));
    EXPECT_TRUE(P("linux/arm/v7").accepts(P("linux/arm/v7")));
    EXPECT_FALSE(P("linux/arm/v7").accepts(P("linux/arm/v6")));
    EXPECT_FALSE(P("linux/arm/v7").accepts(P("linux/arm64/v7")));
}

TEST(Platform, HostAndJson) {
    Platform h = Platform::host();
    EXPECT_EQ(h.os, "linux");
    EXPECT_FALSE(h.architecture.empty());
    EXPECT_NE(h.architecture, "x86_64");
    EXPECT_NE(h.architecture, "aarch64");
    EXPECT_TRUE(h.accepts(h));
    EXPECT_TRUE(h.accepts(Platform::parse(h.str())));

    Platform j = Platform::from_json(
        json{{"os", "linux"}, {"architecture", "arm"}, {"variant", "v6"}, {"os.version", "1"}});
    EXPECT_EQ(j.str(), "linux/arm/v6");
    EXPECT_EQ(j.os_version, "1");
    Platform empty = Platform::from_json(json::object());
    EXPECT_EQ(empty.os, "");
    EXPECT_EQ(empty.architecture, "");
}

TEST(Descriptor, ToJsonOmitsEmptyOptionals) {
    Descriptor d;
    d.media_type = media::oci_layer;
    d.digest = Digest::parse(kA);
    d.size = 42;
    json j = d.to_json();
    EXPECT_EQ(j, (json{{"mediaType", media::oci_layer}, {"digest", kA}, {"size", 42}}));
    Descriptor back = Descriptor::from_json(j, "test");
    EXPECT_EQ(back.digest, d.digest);
    EXPECT_EQ(back.size, 42);
    EXPECT_FALSE(back.platform);
    EXPECT_TRUE(back.annotations.empty());
    EXPECT_TRUE(back.urls.empty());

    auto f = failure_of([] { Descriptor::from_json(json{{"size", 1}}, "the thing"); });
    ASSERT_TRUE(f);
    EXPECT_TRUE(contains(f->message, "the thing")) << f->message;
    EXPECT_TRUE(contains(f->message, "\"digest\"")) << f->message;
}

} // namespace oci_image_test
