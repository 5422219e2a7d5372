// lint's regular expressions (lint/rx.hpp, RE2): search and whole-string match, groups that took
// no part, case, replacement, bytes that are not UTF-8, and inputs far past the 512 bytes at which
// the std::regex it replaced stopped matching (it recursed once per character).
#include "dockerfile/dockerfile.hpp"
#include "lint/lint.hpp"
#include "lint/rx.hpp"

#include <gtest/gtest.h>
#include <stdexcept>
#include <string>

namespace lint_rx_test {

using namespace gantry::lint;

TEST(LintRx, SearchMatchAndGroups) {
    const Rx re(R"(^rocm(\d+)\.(\d+)(?:\.(\d+))?$)", RxCase::insensitive);
    RxMatch m;
    ASSERT_TRUE(rx_match("ROCm6.1", m, re));
    EXPECT_EQ(m[1].str(), "6");
    EXPECT_EQ(m.str(2), "1");
    EXPECT_FALSE(m[3].matched);
    EXPECT_TRUE(m[0].matched);
    EXPECT_FALSE(m[9].matched) << "an index past the groups is an unmatched, empty group";
    EXPECT_FALSE(rx_match("rocm6.1-x", re));
    EXPECT_FALSE(rx_match("ROCM6.1", Rx(R"(^rocm(\d+)\.(\d+)$)"))) << "case sensitive by default";

    const Rx word(R"((^|[-_.])devel([-_.]|$))");
    EXPECT_TRUE(rx_search("12.1.0-devel-ubuntu22.04", word));
    EXPECT_FALSE(rx_match("12.1.0-devel-ubuntu22.04", word)) << "match is the whole string";
    EXPECT_FALSE(rx_search("12.1.0-develop", word));
    std::string whole = m[0];
    EXPECT_EQ(whole, "ROCm6.1");
}

TEST(LintRx, ReplaceUsesGroups) {
    EXPECT_EQ(rx_replace("2.15.0-devel-gpu", Rx(R"(-devel(-gpu)?)"), "\\1"), "2.15.0-gpu");
    EXPECT_EQ(rx_replace("devel-devel", Rx("devel"), "runtime"), "runtime-runtime");
}

TEST(LintRx, LongAndNonUtf8InputsMatch) {
    const std::string pad(1 << 20, 'a');
    const Rx weights(R"(^(https?|s3|gs)://.*(\.(safetensors|pt))(\?.*)?$)");
    RxMatch m;
    ASSERT_TRUE(rx_match("https://h/" + pad + "/m.safetensors", m, weights));
    EXPECT_EQ(m.str(3), "safetensors");
    EXPECT_FALSE(rx_match("https://h/" + pad + "/m.safetensorz", weights));
    // bytes that are not UTF-8 are bytes: '.' takes each of them
    EXPECT_TRUE(rx_match("s3://b/\xff\xfe\x80/w.pt", weights));
    EXPECT_TRUE(rx_search(std::string(100000, '\xff') + "-devel", Rx(R"(-devel$)")));
}

TEST(LintRx, RefusedPatternIsALogicError) {
    EXPECT_THROW(Rx("(unclosed"), std::logic_error);
    EXPECT_THROW(Rx(R"(a(?=b))"), std::logic_error) << "RE2 has no look-ahead";
}

// A rule on a line longer than std::regex's 512-byte cap: it fired on short lines only.
TEST(LintRx, RuleFiresOnALongUrl) {
    const std::string url = "https://example.com/" + std::string(4000, 'x') + "/model.safetensors";
    auto findings =
        lint(gantry::dockerfile::parse_dockerfile("FROM x:1\nRUN wget -q " + url + " -O /m.st\n"),
             Options{});
    int gl014 = 0;
    for (const auto& f : findings) gl014 += f.id == "GL014" && f.at.line == 2;
    EXPECT_EQ(gl014, 1);
}

} // namespace lint_rx_test
