// util/json: the depth-bounded parse every untrusted JSON document goes through (fuzzing found
// `cdi validate` and `inspect` dying with SIGSEGV on documents nested ~300k deep).
#include "util/error.hpp"
#include "util/json.hpp"

#include <gtest/gtest.h>
#include <string>

namespace util_json_test {

namespace safe_json = gantry::safe_json;
using gantry::Errc;
using gantry::Error;

namespace {

std::string arrays(std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

std::string objects(std::size_t depth) {
    std::string s;
    for (std::size_t i = 0; i < depth; ++i) s += "{\"a\":";
    s += "1";
    return s + std::string(depth, '}');
}

Error error_of(std::string_view text, const std::string& what = "doc") {
    try {
        safe_json::parse(text, what);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "parsed: " << text.substr(0, 60);
    return Error(Errc::internal, "");
}

} // namespace

TEST(SafeJson, DepthAtTheLimitParses) {
    auto a = safe_json::parse(arrays(safe_json::kMaxDepth), "doc");
    EXPECT_TRUE(a.is_array());
    auto o = safe_json::parse(objects(safe_json::kMaxDepth), "doc");
    EXPECT_TRUE(o.is_object());
    // everything a walk does with it stays within the stack
    EXPECT_EQ(safe_json::parse(o.dump(), "doc"), o);
}

TEST(SafeJson, OneLevelPastTheLimitIsRefused) {
    for (const auto& text : {arrays(safe_json::kMaxDepth + 1), objects(safe_json::kMaxDepth + 1)}) {
        auto e = error_of(text, "image config");
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_EQ(e.message(), "image config nests deeper than 512 levels");
        EXPECT_FALSE(e.hint().empty());
    }
}

TEST(SafeJson, MillionLevelsDeepIsAnErrorNotACrash) {
    // a value nested this deep is what crashed: the error comes before any recursive walk
    auto e = error_of("{\"config\":{\"Labels\":" + objects(1'000'000) + "}}", "image config");
    EXPECT_EQ(e.code(), Errc::invalid);
    EXPECT_TRUE(safe_json::parse_or_discarded(arrays(1'000'000)).is_discarded());
}

TEST(SafeJson, SyntaxErrorsNameTheDocument) {
    auto e = error_of("{\"a\": [1, 2,]}", "manifest.json");
    EXPECT_EQ(e.code(), Errc::invalid);
    EXPECT_TRUE(e.message().starts_with("manifest.json is not valid JSON: ")) << e.message();
    EXPECT_TRUE(error_of("{} x").message().find("not valid JSON") != std::string::npos);
    EXPECT_TRUE(safe_json::parse_or_discarded("{").is_discarded());
}

TEST(SafeJson, ParsesWhatJsonParseParses) {
    const std::string text =
        R"({"s":"x\"]}[{","n":-1,"u":18446744073709551615,"f":1.5,"b":true,"z":null,"l":[{}]})";
    EXPECT_EQ(safe_json::parse(text, "doc"), nlohmann::json::parse(text));
    EXPECT_EQ(safe_json::parse_or_discarded("\"x\""), "x");
}

} // namespace util_json_test
