// OCI / Docker schema 2 image manifests: parsing both kinds, media types from the document or
// the hint, schema 1 and other documents refused, fields named in errors, and the JSON round trip.
#include "image_test_support.hpp"
#include "oci/image.hpp"
#include "util/error.hpp"

#include <cstddef>
#include <functional>
#include <gtest/gtest.h>
#include <string>

namespace oci_image_manifest_test {

using namespace oci_image_test;
using gantry::Errc;
using gantry::oci::Index;
using gantry::oci::json;
using gantry::oci::Manifest;
namespace media = gantry::oci::media;

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
} // namespace oci_image_manifest_test
