// cdi/spec_model: the CDI name rules for qualified device names.
#include "cdi/spec_model.hpp"
#include "cdi_test_support.hpp"

#include <gtest/gtest.h>

namespace cdi_spec_model_test {

using namespace cdi_test;

TEST(CdiNames, QualifiedNames) {
    auto q = cdi::parse_qualified_name("nvidia.com/gpu=0:1");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->vendor, "nvidia.com");
    EXPECT_EQ(q->cls, "gpu");
    EXPECT_EQ(q->name, "0:1");
    EXPECT_EQ(q->str(), "nvidia.com/gpu=0:1");
    for (const char* bad : {"/dev/nvidia0", "nvidia.com/gpu", "gpu=0",
                            "nvidia.com/gpu=", "nvidia.com/gpu=a/b", "=x", "nvidia.com/=0"})
        EXPECT_FALSE(cdi::parse_qualified_name(bad)) << bad;
}

} // namespace cdi_spec_model_test
