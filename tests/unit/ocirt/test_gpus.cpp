#include "ocirt/gpus.hpp"

#include <gtest/gtest.h>

namespace ocirt_gpus_test {

TEST(OcirtGpus, EachHostRootFlagHasItsVariable) {
    EXPECT_EQ(gantry::ocirt::root_env_name("--driver-root"), "GANTRY_DRIVER_ROOT");
    EXPECT_EQ(gantry::ocirt::root_env_name("--dev-root"), "GANTRY_DEV_ROOT");
    EXPECT_EQ(gantry::ocirt::root_env_name("--sys-root"), "GANTRY_SYS_ROOT");
    // a vendor's own flag gets one the same way
    EXPECT_EQ(gantry::ocirt::root_env_name("--level-zero-root"), "GANTRY_LEVEL_ZERO_ROOT");
}

} // namespace ocirt_gpus_test
