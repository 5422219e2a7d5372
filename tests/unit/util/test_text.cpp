#include "util/text.hpp"
#include "util/units.hpp"

#include <ctime>
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

TEST(Units, HumanDurationTakesDockersSteps) {
    using gantry::units::human_duration;
    EXPECT_EQ(human_duration(0), "Less than a second");
    EXPECT_EQ(human_duration(-5), "Less than a second"); // a clock stepped back
    EXPECT_EQ(human_duration(1), "1 second");
    EXPECT_EQ(human_duration(59), "59 seconds");
    EXPECT_EQ(human_duration(60), "About a minute");
    EXPECT_EQ(human_duration(119), "About a minute");
    EXPECT_EQ(human_duration(120), "2 minutes");
    EXPECT_EQ(human_duration(3599), "59 minutes");
    EXPECT_EQ(human_duration(3600), "About an hour");
    EXPECT_EQ(human_duration(5399), "About an hour"); // 1.5 h rounds to 2 from here
    EXPECT_EQ(human_duration(5400), "2 hours");
    EXPECT_EQ(human_duration(47 * 3600), "47 hours");
    EXPECT_EQ(human_duration(48 * 3600), "2 days");
    EXPECT_EQ(human_duration(13 * 86400), "13 days");
    EXPECT_EQ(human_duration(14 * 86400), "2 weeks");
    EXPECT_EQ(human_duration(59 * 86400), "8 weeks");
    EXPECT_EQ(human_duration(60 * 86400), "2 months");
    EXPECT_EQ(human_duration(729 * 86400), "24 months");
    EXPECT_EQ(human_duration(730 * 86400), "2 years");
}

TEST(Units, SecondsSinceReadsRfc3339) {
    using gantry::units::seconds_since;
    auto now = static_cast<std::int64_t>(std::time(nullptr));
    auto epoch = seconds_since("1970-01-01T00:00:00Z");
    ASSERT_TRUE(epoch);
    EXPECT_NEAR(static_cast<double>(*epoch), static_cast<double>(now), 2);
    // fractions of a second, and an offset: 01:00+01:00 is midnight UTC
    EXPECT_NEAR(static_cast<double>(*seconds_since("1970-01-01T01:00:00.123456789+01:00")),
                static_cast<double>(now), 2);
    EXPECT_NEAR(static_cast<double>(*seconds_since("1969-12-31T23:30:00-00:30")),
                static_cast<double>(now), 2);
    for (const char* bad : {"", "yesterday", "2024-05-01", "2024-05-01T12:34:56",
                            "2024-05-01T12:34:56+0100", "2024-05-01T12:34:56Zjunk"})
        EXPECT_FALSE(seconds_since(bad)) << bad;
    EXPECT_EQ(gantry::units::human_ago("nonsense", "-"), "-");
}
