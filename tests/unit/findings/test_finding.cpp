// findings: the one scale, its two vocabularies (the doctor's and analyze's; lint's hadolint
// words), worst() and the threshold test lint's --failure-threshold uses.
#include "findings/finding.hpp"

#include <gtest/gtest.h>

using namespace gantry::findings;

TEST(Findings, OneScaleLeastSevereFirst) {
    EXPECT_LT(Severity::pass, Severity::info);
    EXPECT_LT(Severity::info, Severity::warn);
    EXPECT_LT(Severity::warn, Severity::fail);
}

TEST(Findings, DoctorWordsRoundTrip) {
    for (auto s : {Severity::pass, Severity::info, Severity::warn, Severity::fail})
        EXPECT_EQ(parse(to_string(s)), s);
    EXPECT_STREQ(to_string(Severity::warn), "warn");
    EXPECT_STREQ(to_string(Severity::fail), "fail");
    EXPECT_FALSE(parse("error"));
    EXPECT_FALSE(parse("WARN"));
}

TEST(Findings, LintWordsAreHadolints) {
    EXPECT_STREQ(to_string(Severity::fail, Words::lint), "error");
    EXPECT_STREQ(to_string(Severity::warn, Words::lint), "warning");
    EXPECT_STREQ(to_string(Severity::info, Words::lint), "info");
    EXPECT_STREQ(to_string(Severity::pass, Words::lint), "?");
    EXPECT_EQ(parse("error", Words::lint), Severity::fail);
    EXPECT_EQ(parse("warning", Words::lint), Severity::warn);
    EXPECT_EQ(parse("info", Words::lint), Severity::info);
    EXPECT_FALSE(parse("warn", Words::lint));
    EXPECT_FALSE(parse("pass", Words::lint));
}

TEST(Findings, WorstAndThreshold) {
    std::vector<Finding> none;
    EXPECT_EQ(worst(none), Severity::pass);
    EXPECT_FALSE(reaches(none, Severity::info));
    std::vector<Finding> f(2);
    f[0].severity = Severity::info;
    f[1].severity = Severity::warn;
    EXPECT_EQ(worst(f), Severity::warn);
    EXPECT_TRUE(reaches(f, Severity::info));
    EXPECT_TRUE(reaches(f, Severity::warn));
    EXPECT_FALSE(reaches(f, Severity::fail));
    EXPECT_FALSE(reaches(f, std::nullopt)); // "none": never fails
}

TEST(Findings, OnePartPerReport) {
    Finding f;
    EXPECT_EQ(f.at.line, 0); // no Dockerfile position unless lint's
    EXPECT_EQ(f.at.column, 1);
    EXPECT_EQ(f.subject.bytes, 0u); // no files unless analyze's
    EXPECT_TRUE(f.subject.details.is_object());
    EXPECT_EQ(f.version, 0);
}
