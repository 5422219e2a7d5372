// Image config Labels are a map of strings (docker and containerd refuse anything else), and a
// config nested past util/json's limit is refused at parse: fuzzing found a config whose Labels
// nested ~300k deep loading fine and then crashing `inspect` and `analyze`.
#include "oci/image.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>

namespace oci_image_labels_test {

using gantry::Errc;
using gantry::Error;
using gantry::oci::ImageConfig;

namespace {

const std::string kDiff = "sha256:" + std::string(64, 'a');

std::string config_with(const std::string& config_body) {
    return R"({"architecture":"amd64","os":"linux","config":)" + config_body +
           R"(,"rootfs":{"type":"layers","diff_ids":[")" + kDiff + R"("]}})";
}

Error error_of(const std::string& text) {
    try {
        ImageConfig::parse(text);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "parsed: " << text.substr(0, 120);
    return Error(Errc::internal, "");
}

} // namespace

TEST(ImageConfigLabels, StringLabelsAndNoLabelsParse) {
    auto c = ImageConfig::parse(config_with(R"({"Labels":{"a":"1","org.x":""}})"));
    EXPECT_EQ(c.raw["config"]["Labels"]["a"], "1");
    EXPECT_NO_THROW(ImageConfig::parse(config_with(R"({"Labels":null})")));
    EXPECT_NO_THROW(ImageConfig::parse(config_with(R"({"Labels":{}})")));
    EXPECT_NO_THROW(ImageConfig::parse(config_with(R"({"Env":["A=1"]})")));
    EXPECT_NO_THROW(ImageConfig::parse(config_with("null")));
}

TEST(ImageConfigLabels, ANonStringValueIsRefusedNamingTheLabel) {
    auto e = error_of(config_with(R"({"Labels":{"ok":"1","deep":{"a":"b"}}})"));
    EXPECT_EQ(e.code(), Errc::invalid);
    EXPECT_EQ(e.message(), "image config: config.Labels[\"deep\"] must be a string, not object");
    EXPECT_FALSE(e.hint().empty());
    for (const char* v : {"1", "true", "[\"x\"]"})
        EXPECT_EQ(error_of(config_with(std::string(R"({"Labels":{"n":)") + v + "}}")).code(),
                  Errc::invalid)
            << v;
    // a hostile key is quoted and escaped in the message
    auto k = error_of(config_with(R"({"Labels":{"a\u001b[2J":1}})"));
    EXPECT_NE(k.message().find(R"(config.Labels["a\u001b[2J"])"), std::string::npos) << k.message();
}

TEST(ImageConfigLabels, LabelsThatAreNotAnObjectAreRefused) {
    auto e = error_of(config_with(R"({"Labels":["a=b"]})"));
    EXPECT_EQ(e.message(), "image config: config.Labels must be an object of strings, not array");
}

TEST(ImageConfigLabels, DeeplyNestedLabelsAreRefusedAtParse) {
    std::string deep;
    for (int i = 0; i < 300'000; ++i) deep += "{\"a\":";
    deep += "\"x\"" + std::string(300'000, '}');
    auto e = error_of(config_with("{\"Labels\":{\"deep\":" + deep + "}}"));
    EXPECT_EQ(e.code(), Errc::invalid);
    EXPECT_EQ(e.message(), "image config nests deeper than 512 levels");
}

} // namespace oci_image_labels_test
