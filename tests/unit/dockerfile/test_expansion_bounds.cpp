// Variable expansion is bounded (issue 36): whatever chain of references a Dockerfile builds,
// one expanded word never exceeds dockerfile::kMaxExpandedWord bytes and ${} never nests deeper
// than dockerfile::kMaxExpansionDepth; past either bound expand_word throws Error(invalid) before
// it has built the oversized value. A property test over random reference chains, not one input.
#include "dockerfile/words.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <random>
#include <string>

namespace lint_expansion_bounds_test {

using gantry::Errc;
using gantry::Error;
using gantry::dockerfile::Env;
using gantry::dockerfile::expand_word;
using gantry::dockerfile::kMaxExpandedWord;
using gantry::dockerfile::kMaxExpansionDepth;

// A random word referring to the variables V0..V(n-1): plain text, $V, ${V}, ${V:-...},
// quotes, mixed.
std::string random_word(std::mt19937& rng, int vars, int refs) {
    std::string w;
    for (int i = 0; i < refs; ++i) {
        std::string name = "V" + std::to_string(rng() % static_cast<unsigned>(vars));
        switch (rng() % 5) {
        case 0:
            w += "$" + name;
            break;
        case 1:
            w += "${" + name + "}";
            break;
        case 2:
            w += "\"${" + name + "}\"";
            break;
        case 3:
            w += "${UNSET:-$" + name + "}";
            break;
        default:
            w += "x" + std::string(rng() % 40, 'y');
        }
    }
    return w;
}

TEST(LintExpansionBounds, RandomReferenceChainsNeverExceedTheBound) {
    std::mt19937 rng(36);
    int refused = 0, fitted = 0;
    for (int trial = 0; trial < 300; ++trial) {
        Env env{{"V0", std::string(1 + rng() % 4096, 'a')}};
        int levels = 2 + static_cast<int>(rng() % 14);
        for (int level = 1; level < levels; ++level) {
            std::string word = random_word(rng, level, 1 + static_cast<int>(rng() % 8));
            try {
                auto r = expand_word(word, env, '\\');
                ASSERT_LE(r.value.size(), kMaxExpandedWord) << word;
                env["V" + std::to_string(level)] = r.value;
                ++fitted;
            } catch (const Error& e) {
                ASSERT_EQ(e.code(), Errc::invalid) << e.message();
                ASSERT_NE(e.message().find("more than " + std::to_string(kMaxExpandedWord)),
                          std::string::npos)
                    << e.message();
                ASSERT_FALSE(e.hint().empty());
                ++refused;
                break;
            }
        }
    }
    EXPECT_GT(refused, 20); // the generator does reach the bound...
    EXPECT_GT(fitted, 200); // ...and most values fit
}

TEST(LintExpansionBounds, ExactlyAtTheBoundFitsOneMoreByteDoesNot) {
    Env env{{"H", std::string(kMaxExpandedWord / 2, 'h')}};
    std::string rest(kMaxExpandedWord - 2 * env["H"].size(), 'r');
    EXPECT_EQ(expand_word("${H}${H}" + rest, env, '\\').value.size(), kMaxExpandedWord);
    EXPECT_THROW(expand_word("${H}${H}" + rest + "z", env, '\\'), Error);
    EXPECT_THROW(expand_word("'$H'${H}\"${H}\"" + rest, env, '\\'), Error);
}

TEST(LintExpansionBounds, ExponentialChainStopsEarly) {
    // ENV A1=$A0$A0$A0$A0 ... : 4^11 times the first value without the bound
    Env env{{"A0", std::string(64, 'x')}};
    int level = 1;
    try {
        for (; level <= 11; ++level) {
            std::string prev = "$A" + std::to_string(level - 1);
            env["A" + std::to_string(level)] =
                expand_word(prev + prev + prev + prev, env, '\\').value;
        }
        FAIL() << "no bound";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_EQ(level, 6); // 64 * 4^5 = 64 KiB fits; 64 * 4^6 = 256 KiB does not
    }
}

TEST(LintExpansionBounds, NestingDeeperThanTheBoundIsRefused) {
    auto nested = [](int depth) {
        std::string w = "end";
        for (int i = 0; i < depth; ++i) w = "${U" + std::to_string(i) + ":-" + w + "}";
        return w;
    };
    EXPECT_EQ(expand_word(nested(kMaxExpansionDepth), {}, '\\').value, "end");
    try {
        expand_word(nested(kMaxExpansionDepth + 1), {}, '\\');
        FAIL() << "no nesting bound";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find("nested more than"), std::string::npos);
    }
}

} // namespace lint_expansion_bounds_test
