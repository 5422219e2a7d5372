// gpu_vendors::nvidia::parse_request: docker's --gpus syntax and the NVIDIA container toolkit's
// environment.
#include "gpu_vendors/nvidia/request.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <vector>

namespace gpu_request_test {

using namespace gantry;
using gpu_vendors::nvidia::Capability;
using gpu_vendors::nvidia::parse_request;
using V = std::vector<std::string>;

namespace {

// The error code parse_request throws; nullopt when it accepts the input.
std::optional<Errc> code_of(const std::vector<std::string>& env,
                            const std::optional<std::string>& gpus) {
    try {
        parse_request(env, gpus);
    } catch (const Error& e) {
        return e.code();
    }
    return std::nullopt;
}

} // namespace

TEST(GpuRequest, GpusFlagForms) {
    auto all = parse_request({}, "all");
    EXPECT_TRUE(all.inject && all.all);
    EXPECT_EQ(all.source, "--gpus");
    auto two = parse_request({}, "2");
    EXPECT_TRUE(two.inject && !two.all);
    EXPECT_EQ(two.devices, (V{"0", "1"}));
    EXPECT_EQ(parse_request({}, "count=3").devices, (V{"0", "1", "2"}));
    EXPECT_TRUE(parse_request({}, "count=all").all);
    EXPECT_EQ(parse_request({}, "device=0,2").devices, (V{"0", "2"}));
    EXPECT_EQ(parse_request({}, "\"device=1,3\"").devices, (V{"1", "3"})); // docker's quoting
    EXPECT_EQ(parse_request({}, "GPU-abc").devices, (V{"GPU-abc"}));
    EXPECT_EQ(parse_request({}, "MIG-def").devices, (V{"MIG-def"}));
    auto caps = parse_request({}, "count=1,capabilities=video,compute");
    EXPECT_EQ(caps.devices, (V{"0"}));
    EXPECT_EQ(caps.caps,
              (gpu_vendors::nvidia::Capabilities{Capability::compute, Capability::video}));
    // capabilities alone: every GPU
    EXPECT_TRUE(parse_request({}, "capabilities=utility").all);
    // the flag overrides the image's NVIDIA_VISIBLE_DEVICES
    EXPECT_EQ(parse_request({"NVIDIA_VISIBLE_DEVICES=all"}, "1").devices, (V{"0"}));
}

TEST(GpuRequest, AGpuCountIsBounded) {
    // a count is the first N GPUs: a huge one is a usage error, not billions of names or an
    // integer overflow (std::stoi threw out_of_range: an internal error)
    EXPECT_EQ(parse_request({}, "1024").devices.size(), 1024u);
    for (const char* n : {"1025", "4294967296", "99999999999999999999", "count=100000"})
        EXPECT_EQ(code_of({}, std::string(n)), Errc::usage) << n;
    EXPECT_EQ(parse_request({}, "0").devices, V{});
}

TEST(GpuRequest, MalformedFlagsAreUsageErrors) {
    for (const char* bad : {"count=x", "capabilities=teleport", "banana", "count=-1"})
        EXPECT_EQ(code_of({}, std::string(bad)), Errc::usage) << bad;
    EXPECT_EQ(code_of({}, std::string("driver=amd")), Errc::unsupported); // another vendor's
    EXPECT_EQ(code_of({}, std::string("all,driver=nvidia")), std::nullopt);
}

TEST(GpuRequest, EnvironmentContract) {
    EXPECT_FALSE(parse_request({}, std::nullopt).inject); // not a GPU image
    auto env = parse_request({"NVIDIA_VISIBLE_DEVICES=0,GPU-x", "NVIDIA_DRIVER_CAPABILITIES=all",
                              "NVIDIA_REQUIRE_CUDA=cuda>=12.0", "NVIDIA_DISABLE_REQUIRE=true"},
                             std::nullopt);
    EXPECT_TRUE(env.inject);
    EXPECT_EQ(env.source, "NVIDIA_VISIBLE_DEVICES");
    EXPECT_EQ(env.devices, (V{"0", "GPU-x"}));
    EXPECT_EQ(env.caps, gpu_vendors::nvidia::all_capabilities());
    ASSERT_EQ(env.requirements.size(), 1u);
    EXPECT_EQ(env.requirements[0].second, "cuda>=12.0");
    EXPECT_TRUE(env.disable_require);
    // void and empty: no GPU; none: the driver without devices; the default capabilities
    EXPECT_FALSE(parse_request({"NVIDIA_VISIBLE_DEVICES=void"}, std::nullopt).inject);
    EXPECT_FALSE(parse_request({"NVIDIA_VISIBLE_DEVICES="}, std::nullopt).inject);
    auto none = parse_request({"NVIDIA_VISIBLE_DEVICES=none"}, std::nullopt);
    EXPECT_TRUE(none.inject && none.devices.empty() && !none.all);
    EXPECT_EQ(none.caps,
              (gpu_vendors::nvidia::Capabilities{Capability::utility, Capability::compute}));
    // a legacy CUDA image (CUDA_VERSION, no NVIDIA_VISIBLE_DEVICES): every GPU, every
    // capability, and a cuda>=MAJOR.MINOR requirement
    auto legacy = parse_request({"CUDA_VERSION=11.8.0"}, std::nullopt);
    EXPECT_TRUE(legacy.all);
    EXPECT_EQ(legacy.caps, gpu_vendors::nvidia::all_capabilities());
    ASSERT_FALSE(legacy.requirements.empty());
    EXPECT_EQ(legacy.requirements.back().second, "cuda>=11.8");
    EXPECT_EQ(
        code_of({"NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=warp"}, std::nullopt),
        Errc::usage);
}

} // namespace gpu_request_test
