// gpu_vendors/amd/cu_mask: --gpu-compute as ROCm's HSA_CU_MASK ("GPU_list:CU_list; ...").
#include "gpu_vendors/amd/cu_mask.hpp"

#include <gtest/gtest.h>

namespace amd = gantry::gpu_vendors::amd;

TEST(AmdCuMask, PercentOfEachGpusComputeUnits) {
    EXPECT_EQ(amd::hsa_cu_mask({96}, 50), "0:0-47");
    EXPECT_EQ(amd::hsa_cu_mask({304, 304}, 25), "0-1:0-75");
    // GPUs with different counts: a set each, the same shares together
    EXPECT_EQ(amd::hsa_cu_mask({96, 304, 96}, 50), "0,2:0-47; 1:0-151");
    // at least one CU
    EXPECT_EQ(amd::hsa_cu_mask({2}, 1), "0:0");
    EXPECT_EQ(amd::hsa_cu_mask({96}, 100), "0:0-95");
}
