// util/json: the depth-bounded parse every untrusted JSON document goes through (fuzzing found
// `cdi validate` and `inspect` dying with SIGSEGV on documents nested ~300k deep).
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/text.hpp"

#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <vector>

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

// JSON text holds UTF-8 only. text::first_non_utf8 (glibc's iconv) and nlohmann's dump agree on
// what is UTF-8: the build's and the containers' records decide with the one what the other
// would refuse.
TEST(SafeJson, Utf8ValidityAgreesWithNlohmannAndNamesTheFirstBadByte) {
    const std::vector<std::pair<std::string, std::optional<std::size_t>>> cases = {
        {"", std::nullopt},
        {"plain ascii", std::nullopt},
        {"caf\xc3\xa9", std::nullopt},                   // é
        {"\xe2\x82\xac \xf0\x9f\x98\x80", std::nullopt}, // € and U+1F600
        {"\xf4\x8f\xbf\xbf", std::nullopt},              // U+10FFFF, the last
        {"caf\xe9", 3},                                  // Latin-1
        {"ab\xff", 2},
        {"\xc0\x80", 0},         // an overlong NUL
        {"x\xe0\x80\xaf", 1},    // an overlong '/'
        {"\xed\xa0\x80", 0},     // a surrogate
        {"\xf4\x90\x80\x80", 0}, // past U+10FFFF
        {"ok\xe2\x82", 2},       // cut off at the end
        {"\xc3\xa9\x80", 2},     // a lone continuation byte
        {std::string(5000, 'a') + "\xc3\xa9" + std::string(5000, 'b') + "\xe9", 10002},
    };
    for (const auto& [text, bad] : cases) {
        SCOPED_TRACE(testing::PrintToString(text.substr(0, 20)));
        EXPECT_EQ(gantry::text::first_non_utf8(text), bad);
        bool dumped = true;
        try {
            (void)nlohmann::json(text).dump();
        } catch (const nlohmann::json::type_error&) {
            dumped = false;
        }
        EXPECT_EQ(dumped, !bad.has_value());
        EXPECT_EQ(safe_json::lossy_utf8(text) == text, !bad.has_value());
        EXPECT_FALSE(gantry::text::first_non_utf8(safe_json::lossy_utf8(text)).has_value());
    }
}

TEST(SafeJson, FindsTheFirstValueThatIsNotUtf8AndRefusesToDumpItNamingIt) {
    nlohmann::json j = {{"args", {"sh", "caf\xe9"}}, {"env", {"A=1"}}};
    auto bad = safe_json::find_not_utf8(j);
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->where, "args[1]");
    EXPECT_EQ(bad->shown, "\"caf\xef\xbf\xbd\"");
    nlohmann::json key = {{"labels", {{"k\xff", "v"}}}};
    ASSERT_TRUE(safe_json::find_not_utf8(key));
    EXPECT_EQ(safe_json::find_not_utf8(key)->where, "labels.k\xff");
    EXPECT_FALSE(safe_json::find_not_utf8(nlohmann::json{{"a", {1, "b", nullptr}}}));
    try {
        (void)safe_json::dump_or_refuse(j, -1, "container c", "its state", "fix it");
        ADD_FAILURE() << "dumped";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_EQ(e.message(), "container c: its args[1] \"caf\xef\xbf\xbd\" holds bytes that are "
                               "not UTF-8, which its state (JSON) cannot hold");
        EXPECT_EQ(e.hint(), "fix it");
    }
    EXPECT_EQ(safe_json::dump_lossy(j),
              "{\"args\":[\"sh\",\"caf\xef\xbf\xbd\"],\"env\":[\"A=1\"]}");
}

} // namespace util_json_test
