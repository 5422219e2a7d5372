#include "util/text.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

using gantry::text::lines;
using gantry::text::split;
using gantry::text::to_u32;

namespace {

std::vector<std::string> strings(const std::vector<std::string_view>& v) {
    return {v.begin(), v.end()};
}

} // namespace

TEST(Text, SplitKeepsEmptyFields) {
    using V = std::vector<std::string>;
    EXPECT_EQ(strings(split("a::b", ':')), (V{"a", "", "b"}));
    EXPECT_EQ(strings(split("a:", ':')), (V{"a", ""}));
    EXPECT_EQ(strings(split(":a", ':')), (V{"", "a"}));
    EXPECT_EQ(strings(split(":", ':')), (V{"", ""}));
    EXPECT_EQ(strings(split("abc", ':')), (V{"abc"}));
    EXPECT_TRUE(split("", ':').empty());
}

TEST(Text, LinesDropOnlyTheLastNewline) {
    using V = std::vector<std::string>;
    EXPECT_EQ(strings(lines("a\nb")), (V{"a", "b"}));
    EXPECT_EQ(strings(lines("a\nb\n")), (V{"a", "b"}));
    EXPECT_EQ(strings(lines("a\n\nb\n\n")), (V{"a", "", "b", ""}));
    EXPECT_EQ(strings(lines("\n")), (V{""}));
    EXPECT_EQ(strings(lines("a\r\n")), (V{"a\r"})); // a CR stays: the caller decides
    EXPECT_TRUE(lines("").empty());
}

TEST(Text, ToU32TakesWholeDecimalNumbersOnly) {
    EXPECT_EQ(to_u32("0"), 0u);
    EXPECT_EQ(to_u32("1000"), 1000u);
    EXPECT_EQ(to_u32("4294967295"), 4294967295u);
    for (const char* bad : {"", "-5", "+5", " 7", "7 ", "10x", "0x10", "4294967296", "1e3"})
        EXPECT_FALSE(to_u32(bad).has_value()) << bad;
}
