// util/units: sizes in docker's binary units (parse_size, docker's go-units RAMInBytes), dive's
// sizes for analyze's thresholds (parse_dive_size), sizes and durations for people.
#include "util/error.hpp"
#include "util/units.hpp"

#include <ctime>
#include <gtest/gtest.h>
#include <string>

namespace util_units_test {

using gantry::Errc;
using gantry::Error;
using gantry::units::parse_size;

namespace {

// The Error parse_size throws for TEXT as --write-warn (fails the test when it throws none).
Error size_error(const std::string& text) {
    try {
        parse_size(text, "--write-warn");
        ADD_FAILURE() << "accepted \"" << text << "\"";
    } catch (const Error& e) {
        return e;
    }
    return Error(Errc::internal, "no error");
}

} // namespace

TEST(Units, ParseSizeUsesDockersBinaryUnits) {
    EXPECT_EQ(parse_size("0"), 0u);
    EXPECT_EQ(parse_size("1024"), 1024u);
    for (const char* v : {"32b", "32B", "32"}) EXPECT_EQ(parse_size(v), 32u) << v;
    for (const char* v : {"1k", "1K", "1kb", "1Kb", "1KiB", "1KIB", "1kib"})
        EXPECT_EQ(parse_size(v), 1024u) << v;
    EXPECT_EQ(parse_size("512k"), 512u << 10); // 512 KiB
    for (const char* v : {"8g", "8G", "8gb", "8GB", "8GiB", "8gib", "8 g", "8 GiB"})
        EXPECT_EQ(parse_size(v), 8ull << 30) << v; // 8 GiB
    EXPECT_EQ(parse_size("20 MB"), 20ull << 20);
    EXPECT_EQ(parse_size("512m"), 512ull << 20);
    EXPECT_EQ(parse_size("1t"), 1ull << 40);
    EXPECT_EQ(parse_size("1Tb"), 1ull << 40);
    EXPECT_EQ(parse_size("1p"), 1ull << 50);
    EXPECT_EQ(parse_size("1PB"), 1ull << 50);
}

TEST(Units, ParseSizeTakesDecimalsAndTruncatesToBytes) {
    EXPECT_EQ(parse_size("1.5g"), 3ull << 29);
    EXPECT_EQ(parse_size("0.5k"), 512u);
    EXPECT_EQ(parse_size(".5k"), 512u);
    EXPECT_EQ(parse_size("1.k"), 1024u);
    EXPECT_EQ(parse_size("32.3"), 32u);          // go-units' own tests
    EXPECT_EQ(parse_size("32.3 mb"), 33869004u); // int64(32.3 * MiB)
    EXPECT_EQ(parse_size("0.3MB"), 314572u);     // int64(0.3 * MiB)
    EXPECT_EQ(parse_size("1.000000000000000000000000001g"), 1ull << 30);
    EXPECT_EQ(parse_size("0.0000001"), 0u);
}

TEST(Units, ParseSizeReadsTheNumberAsGosParseFloat) {
    // RAMInBytes hands the number to strconv.ParseFloat: its syntax is docker's grammar
    EXPECT_EQ(parse_size("1e3"), 1000u);
    EXPECT_EQ(parse_size("1E3k"), 1000u << 10);
    EXPECT_EQ(parse_size("2.5e-1k"), 256u);
    EXPECT_EQ(parse_size("+1k"), 1024u);
    EXPECT_EQ(parse_size("1_000"), 1000u);
    EXPECT_EQ(parse_size("0x1p10"), 1024u);
    EXPECT_EQ(parse_size("0x1.8p1k"), 3u << 10);
    EXPECT_EQ(parse_size("-0"), 0u);     // not negative
    EXPECT_EQ(parse_size("1 "), 1u);     // the number ends at the first space; no unit after it
    EXPECT_EQ(parse_size("1e-400"), 0u); // too small to tell from zero, as in Go
}

TEST(Units, ParseSizeBoundaries) {
    EXPECT_EQ(parse_size("8191p"), 8191ull << 50);
    EXPECT_EQ(parse_size("9223372036854774784"), 9223372036854774784ull); // 2^63 - 1024
    // docker's arithmetic is a double's: 2^53 + 1 bytes is 2^53
    EXPECT_EQ(parse_size("9007199254740993"), 9007199254740992ull);
    for (const char* v : {"8192p", "8388608t", "9223372036854775807", "9223372036854775808",
                          "99999999999999999999", "99999999999p", "1e19", "1e400", "0x1p63"}) {
        Error e = size_error(v);
        EXPECT_EQ(e.code(), Errc::usage) << v;
        EXPECT_EQ(e.message(), std::string("--write-warn: ") + v + " is too large");
        EXPECT_NE(e.hint().find("8192p"), std::string::npos) << e.hint();
    }
}

TEST(Units, ParseSizeRefusesJunkNamingTheFlagAndTheGrammar) {
    for (const char* v :
         {"",     "x",    "lots",   "m",    ".",    "12 parsecs", "1QB",   "12zb",     "1e",
          "1e+",  "1..2", "1.2.3m", " 1",   "1  m", "1m b",       "32m b", "32bm",     "1bb",
          "1kbb", "1ki",  "1gi",    "1mbb", "nan",  "inf",        "-inf",  "Infinity", "0x10",
          "0x",   "0x1p", "1__0",   "_1",   "1_",   "1_.5",       "1e_5",  "1,000",    "1k1"}) {
        Error e = size_error(v);
        EXPECT_EQ(e.code(), Errc::usage) << v;
        EXPECT_TRUE(e.message().starts_with(std::string("--write-warn: invalid value \"") + v +
                                            "\": not a size"))
            << e.message();
        EXPECT_NE(e.hint().find("512k = 512 KiB, 8g = 8 GiB"), std::string::npos) << e.hint();
    }
    EXPECT_EQ(size_error("12zb").message(),
              "--write-warn: invalid value \"12zb\": not a size (unknown unit \"zb\": use b, k, "
              "m, g, t or p)");
}

TEST(Units, ParseSizeRefusesNegativeSizes) {
    for (const char* v : {"-1", "-1G", "-0.5k", "-1e3"}) {
        Error e = size_error(v);
        EXPECT_EQ(e.code(), Errc::usage) << v;
        EXPECT_EQ(e.message(), std::string("--write-warn: invalid value \"") + v +
                                   "\": not a size (a size cannot be negative)");
    }
}

TEST(Units, DiveSizesAreSiAndIec) {
    using gantry::units::parse_dive_size;
    EXPECT_EQ(parse_dive_size("1024"), 1024u);
    EXPECT_EQ(parse_dive_size("1k"), 1000u);
    EXPECT_EQ(parse_dive_size("1KiB"), 1024u);
    EXPECT_EQ(parse_dive_size("1.5G"), 1500000000u);
    EXPECT_EQ(parse_dive_size("2GiB"), 2ull << 30);
    EXPECT_EQ(parse_dive_size("20 MB"), 20000000u);
    EXPECT_EQ(parse_dive_size("1Ti"), 1ull << 40);
    for (const char* bad : {"", "x", "12 parsecs", "1QB", "-5", "nan", "inf"}) {
        try {
            parse_dive_size(bad, "--highest-wasted-bytes");
            ADD_FAILURE() << bad;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::usage) << bad;
            EXPECT_NE(e.message().find("--highest-wasted-bytes"), std::string::npos) << e.message();
            EXPECT_FALSE(e.hint().empty()) << bad;
        }
    }
}

// 2^64 bytes and more do not fit the result: refused as go-humanize refuses them (found by
// fuzz/fuzz_cli_values; the conversion was undefined behaviour, UBSan's float-cast-overflow).
// The largest double below 2^64 is the near miss: it fits and is returned exactly.
TEST(Units, DiveSizeOf2To64BytesOrMoreIsTooLarge) {
    using gantry::units::parse_dive_size;
    for (const char* big : {"18446744073709551616", "20000000TB", "1e30", "16777216 TiB"}) {
        try {
            parse_dive_size(big, "highestWastedBytes");
            ADD_FAILURE() << big;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::usage) << big;
            EXPECT_EQ(e.message(), std::string("highestWastedBytes: \"") + big + "\" is too large");
        }
    }
    EXPECT_EQ(parse_dive_size("18446744073709549568"), 18446744073709549568ull);
    EXPECT_EQ(parse_dive_size("16777215 TiB"), 16777215ull << 40);
}

TEST(Units, ConsumeDigitsStopsAtANonDigitAndReportsOverflow) {
    using gantry::units::consume_digits;
    std::size_t i = 1, n = 0;
    std::uint64_t v = 0;
    EXPECT_TRUE(consume_digits("x1234.5", i, v, n));
    EXPECT_EQ(v, 1234u);
    EXPECT_EQ(n, 4u);
    EXPECT_EQ(i, 5u);
    i = 0;
    EXPECT_TRUE(consume_digits("18446744073709551615", i, v, n));
    EXPECT_EQ(v, 18446744073709551615ull);
    i = 0;
    EXPECT_FALSE(consume_digits("18446744073709551616", i, v, n));
    EXPECT_EQ(v, 18446744073709551615ull); // saturated
    EXPECT_EQ(n, 20u);
    i = 0;
    EXPECT_TRUE(consume_digits("abc", i, v, n));
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(i, 0u);
}

TEST(Units, HumanSizeIsDecimal) {
    using gantry::units::human_size;
    EXPECT_EQ(human_size(999), "999 B");
    EXPECT_EQ(human_size(1500), "1.50 kB");
    EXPECT_EQ(human_size(1500000000), "1.50 GB");
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

} // namespace util_units_test
