// OCI layer media types (compression, foreign and unknown layers), compression sniffing, media
// type classification, platforms (parse, match, host, JSON) and descriptors.
#include "image_test_support.hpp"
#include "oci/digest.hpp"
#include "oci/image.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>

namespace oci_image_media_platform_test {

using namespace oci_image_test;
using gantry::Errc;
using gantry::oci::Compression;
using gantry::oci::Descriptor;
using gantry::oci::Digest;
using gantry::oci::json;
using gantry::oci::layer_compression;
using gantry::oci::Platform;
using gantry::oci::sniff_compression;
namespace media = gantry::oci::media;

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

} // namespace oci_image_media_platform_test
