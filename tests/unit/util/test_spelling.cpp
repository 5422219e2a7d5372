#include "util/spelling.hpp"

#include <gtest/gtest.h>
#include <optional>

namespace util_spelling_test {

namespace {

enum class Colour { red, green, blue };
constexpr gantry::text::Spelling<Colour> kColours[] = {{Colour::red, "red"},
                                                       {Colour::green, "green"}};

} // namespace

TEST(Spelling, OneTableSpellsBothWays) {
    EXPECT_STREQ(gantry::text::word_for(kColours, Colour::green, "?"), "green");
    EXPECT_STREQ(gantry::text::word_for(kColours, Colour::red, "?"), "red");
    EXPECT_EQ(gantry::text::value_for(kColours, "green"), Colour::green);
    EXPECT_EQ(gantry::text::value_for(kColours, "red"), Colour::red);
}

TEST(Spelling, WhatTheTableDoesNotListIsOtherwiseOrNothing) {
    EXPECT_STREQ(gantry::text::word_for(kColours, Colour::blue, "other"), "other");
    EXPECT_EQ(gantry::text::value_for(kColours, "blue"), std::nullopt);
    EXPECT_EQ(gantry::text::value_for(kColours, "Red"), std::nullopt); // exact, case and all
    EXPECT_EQ(gantry::text::value_for(kColours, ""), std::nullopt);
    static_assert(gantry::text::value_for(kColours, "green") == Colour::green); // constexpr
}

} // namespace util_spelling_test
