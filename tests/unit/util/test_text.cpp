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

TEST(Text, WordsSplitOnRunsOfWhitespace) {
    using gantry::text::words;
    using V = std::vector<std::string>;
    EXPECT_EQ(strings(words(" a  b\n")), (V{"a", "b"}));
    EXPECT_EQ(strings(words("a\tb\r\nc\v\fd")), (V{"a", "b", "c", "d"}));
    EXPECT_EQ(strings(words("one")), (V{"one"}));
    EXPECT_TRUE(words("").empty());
    EXPECT_TRUE(words(" \n\t").empty());
}

TEST(Text, JoinAndJoinEnglish) {
    using gantry::text::join;
    using gantry::text::join_english;
    using V = std::vector<std::string>;
    EXPECT_EQ(join(V{"a", "b", "c"}, " "), "a b c");
    EXPECT_EQ(join(V{"a"}, ", "), "a");
    EXPECT_EQ(join(V{}, " "), "");
    EXPECT_EQ(join_english(V{}), "");
    EXPECT_EQ(join_english(V{"memory"}), "memory");
    EXPECT_EQ(join_english(V{"memory", "cpu"}), "memory and cpu");
    EXPECT_EQ(join_english(V{"memory", "cpu", "pids"}), "memory, cpu and pids");
}

TEST(Text, ContainsComparesWholeItems) {
    using gantry::text::contains;
    const std::vector<std::string> v{"cpu", "memory"};
    EXPECT_TRUE(contains(v, "cpu"));
    EXPECT_FALSE(contains(v, "cp"));
    EXPECT_FALSE(contains({}, ""));
}
