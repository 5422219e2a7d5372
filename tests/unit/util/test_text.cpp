#include "util/columns.hpp"
#include "util/text.hpp"

#include <cctype>
#include <clocale>
#include <gtest/gtest.h>
#include <span>
#include <string>
#include <vector>

namespace util_text_test {

using gantry::text::all_digits;
using gantry::text::columns;
using gantry::text::contains;
using gantry::text::iequals;
using gantry::text::join;
using gantry::text::join_english;
using gantry::text::lines;
using gantry::text::lower;
using gantry::text::split;
using gantry::text::to_u32;
using gantry::text::trim;
using gantry::text::trim_left;
using gantry::text::trim_right;
using gantry::text::upper;

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

TEST(Text, TrimTakesWhiteSpaceOrTheCharactersGiven) {
    EXPECT_EQ(trim(" \t\n\v\f\ra b\r\n"), "a b");
    EXPECT_EQ(trim_left("  a b  "), "a b  ");
    EXPECT_EQ(trim_right("  a b  "), "  a b");
    EXPECT_EQ(trim("a"), "a");
    EXPECT_EQ(trim(" \t\n "), "");
    EXPECT_EQ(trim_left(" \n"), "");
    EXPECT_EQ(trim_right(" \n"), "");
    EXPECT_EQ(trim(""), "");
    EXPECT_EQ(trim("\xC2\xA0x\xC2\xA0"), "\xC2\xA0x\xC2\xA0"); // no-break space is not ASCII's
    // a set of one's own: " \t" leaves a newline, quotes can go with the blanks
    EXPECT_EQ(trim(" a\n\t", " \t"), "a\n");
    EXPECT_EQ(trim(" \"compute, utility\"' ", " \t\"'"), "compute, utility");
    EXPECT_EQ(trim_left("xxaxx", "x"), "axx");
    EXPECT_EQ(trim_right("xxaxx", "x"), "xxa");
    // a view into the argument, not a copy
    std::string_view s = "  abc ";
    EXPECT_EQ(trim(s).data(), s.data() + 2);
}

TEST(Text, CaseChangesOnlyAsciiLetters) {
    EXPECT_EQ(lower("Hello, World 42!"), "hello, world 42!");
    EXPECT_EQ(upper("Hello, World 42!"), "HELLO, WORLD 42!");
    EXPECT_EQ(lower("@[`{"), "@[`{"); // the neighbours of A-Z and a-z
    EXPECT_EQ(upper("@[`{"), "@[`{");
    EXPECT_EQ(lower("\xC3\x84rger"), "\xC3\x84rger"); // UTF-8 passes through: "Ärger"
    EXPECT_EQ(upper("stra\xC3\x9F"
                    "e"),
              "STRA\xC3\x9F"
              "E");
    EXPECT_EQ(lower(""), "");
    EXPECT_EQ(upper(std::string("a\0b", 3)), std::string("A\0B", 3));
}

// The copies text:: replaced used <cctype>; gantry runs in "C" or "C.UTF-8" (cli/main.cpp), where
// it is ASCII's for every byte.
TEST(Text, CaseAndWhiteSpaceAreCtypesInTheLocalesGantryRuns) {
    std::string before = std::setlocale(LC_CTYPE, nullptr);
    for (const char* locale : {"C", "C.UTF-8"}) {
        if (!std::setlocale(LC_CTYPE, locale)) continue; // not installed: nothing to compare
        for (int c = 0; c < 256; ++c) {
            std::string one(1, static_cast<char>(c));
            EXPECT_EQ(lower(one)[0], static_cast<char>(std::tolower(c))) << locale << " " << c;
            EXPECT_EQ(upper(one)[0], static_cast<char>(std::toupper(c))) << locale << " " << c;
            EXPECT_EQ(trim(one).empty(), std::isspace(c) != 0) << locale << " " << c;
        }
    }
    std::setlocale(LC_CTYPE, before.c_str());
}

TEST(Text, IequalsIgnoresOnlyAsciiCase) {
    EXPECT_TRUE(iequals("NVIDIA", "nvidia"));
    EXPECT_TRUE(iequals("GeForce RTX", "geforce rtx"));
    EXPECT_TRUE(iequals("", ""));
    EXPECT_FALSE(iequals("nvidia", "nvidia "));
    EXPECT_FALSE(iequals("a", "b"));
    EXPECT_FALSE(iequals("@", "`")); // 0x40 and 0x60 differ by the case bit but are not letters
    EXPECT_FALSE(iequals("\xC3\x84", "\xC3\xA4")); // Ä and ä: not ASCII
}

TEST(Text, Contains) {
    EXPECT_TRUE(contains("/usr/lib/python3/site-packages", "/site-packages"));
    EXPECT_TRUE(contains("abc", ""));
    EXPECT_TRUE(contains("", ""));
    EXPECT_FALSE(contains("abc", "abcd"));
    EXPECT_FALSE(contains("abc", "C"));
}

TEST(Text, JoinPutsTheSeparatorBetweenEveryTwo) {
    using V = std::vector<std::string>;
    EXPECT_EQ(join(V{"a", "b", "c"}, ", "), "a, b, c");
    EXPECT_EQ(join(V{"a"}, ", "), "a");
    EXPECT_EQ(join(V{}, ", "), "");
    EXPECT_EQ(join(V{"", "a", ""}, "/"), "/a/"); // empty items keep their place
    EXPECT_EQ(join(V{"a", "b"}, ""), "ab");
    V comps{"usr", "lib", "x"};
    EXPECT_EQ(join(std::span(comps).first(2), "/"), "usr/lib");
}

TEST(Text, ColumnsPadsEveryCellButTheLastToItsColumnPlusThree) {
    EXPECT_EQ(columns({}), "");
    EXPECT_EQ(columns({{"ID", "NAME"}, {"1", "a"}}), "ID   NAME\n1    a\n");
    // a longer cell below widens its column for every row; a short row stops where it ends
    EXPECT_EQ(columns({{"A", "B", "C"}, {"long", "x"}, {"y"}}), "A      B   C\nlong   x\ny\n");
}

TEST(Text, JoinEnglishListsAsAPersonDoes) {
    using V = std::vector<std::string>;
    EXPECT_EQ(join_english(V{}), "");
    EXPECT_EQ(join_english(V{"cpu"}), "cpu");
    EXPECT_EQ(join_english(V{"cpu", "memory"}), "cpu and memory");
    EXPECT_EQ(join_english(V{"cpu", "memory", "pids"}), "cpu, memory and pids");
    EXPECT_EQ(join_english(V{"a", "b", "c", "d"}), "a, b, c and d");
}

TEST(Text, AllDigitsWantsAtLeastOneAndOnlyDigits) {
    EXPECT_TRUE(all_digits("0"));
    EXPECT_TRUE(all_digits("007"));
    EXPECT_TRUE(all_digits("123456789012345678901234567890")); // no range: a shape test
    for (const char* no : {"", "-1", "+1", "1.5", " 1", "1 ", "0x1", "1e3", "\xD9\xA1"})
        EXPECT_FALSE(all_digits(no)) << no;
}

TEST(Text, ToU32TakesWholeDecimalNumbersOnly) {
    EXPECT_EQ(to_u32("0"), 0u);
    EXPECT_EQ(to_u32("1000"), 1000u);
    EXPECT_EQ(to_u32("4294967295"), 4294967295u);
    for (const char* bad : {"", "-5", "+5", " 7", "7 ", "10x", "0x10", "4294967296", "1e3"})
        EXPECT_FALSE(to_u32(bad).has_value()) << bad;
}

TEST(Text, WordsSplitOnRunsOfWhiteSpace) {
    using gantry::text::words;
    using V = std::vector<std::string>;
    EXPECT_EQ(strings(words(" a  b\n")), (V{"a", "b"}));
    EXPECT_EQ(strings(words("a\tb\r\nc\v\fd")), (V{"a", "b", "c", "d"}));
    EXPECT_EQ(strings(words("one")), (V{"one"}));
    EXPECT_TRUE(words("").empty());
    EXPECT_TRUE(words(" \n\t").empty());
}

} // namespace util_text_test
