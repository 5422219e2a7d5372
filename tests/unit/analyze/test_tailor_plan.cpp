// analyze/tailor_plan: the deflated size of dropped ranges (analyze's prediction of a tailored
// layer's saving): what random bytes cost, what zeros cost, ranges out of the data ignored.
#include "analyze/tailor_plan.hpp"

#include <gtest/gtest.h>
#include <random>

namespace analyze_tailor_plan_test {

using namespace gantry::analyze;

TEST(TailorPlan, DeflatedSizeOfRanges) {
    std::mt19937 rng(3);
    std::string data(3 << 20, '\0');
    for (std::size_t i = 0; i < (1u << 20); ++i) data[i] = static_cast<char>(rng());
    // [0, 1 MiB) random, [1 MiB, 3 MiB) zeros.
    EXPECT_EQ(deflated_size(data, {}), 0u);
    auto random = deflated_size(data, {{0, 1 << 20}});
    EXPECT_GT(random, (1u << 20) * 99 / 100); // incompressible
    EXPECT_LT(random, (1u << 20) * 102 / 100);
    auto zeros = deflated_size(data, {{1 << 20, 2 << 20}});
    EXPECT_LT(zeros, 20u * 1024);
    // Two ranges: about the sum; a range past the data is ignored.
    auto both = deflated_size(data, {{0, 1 << 19}, {1 << 19, 1 << 19}, {data.size(), 10}});
    EXPECT_GT(both, random * 99 / 100);
    EXPECT_LT(both, random * 101 / 100);
}

} // namespace analyze_tailor_plan_test
