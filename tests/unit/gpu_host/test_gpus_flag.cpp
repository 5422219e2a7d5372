// gpu_host::parse_gpus_flag: docker's --gpus grammar, the part every vendor shares.
#include "gpu_host/gpus_flag.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <vector>

namespace gpu_gpus_flag_test {

using namespace gantry;
using V = std::vector<std::string>;

namespace {

std::optional<Errc> code_of(const std::string& value) {
    try {
        gpu_host::parse_gpus_flag(value);
    } catch (const Error& e) {
        return e.code();
    }
    return std::nullopt;
}

} // namespace

TEST(GpusFlag, DevicesCountsAndAll) {
    auto d = gpu_host::parse_gpus_flag("\"device=0,2\"");
    EXPECT_TRUE(d.inject);
    EXPECT_FALSE(d.all);
    EXPECT_EQ(d.devices, (V{"0", "2"}));
    auto n = gpu_host::parse_gpus_flag("2");
    EXPECT_EQ(n.devices, (V{"0", "1"}));
    auto a = gpu_host::parse_gpus_flag("count=all,capabilities=compute,utility");
    EXPECT_TRUE(a.all);
    ASSERT_TRUE(a.capabilities.has_value());
    EXPECT_EQ(*a.capabilities, (V{"compute", "utility"}));
    auto u = gpu_host::parse_gpus_flag("GPU-abc");
    EXPECT_EQ(u.devices, (V{"GPU-abc"}));
    // capabilities alone: every GPU
    auto c = gpu_host::parse_gpus_flag("capabilities=video");
    EXPECT_TRUE(c.inject && c.all);
    EXPECT_FALSE(gpu_host::parse_gpus_flag("device=void").inject);
}

TEST(GpusFlag, RefusesWhatItCannotParseNamingTheFlag) {
    EXPECT_EQ(code_of("capabilities=compute,bogus"), Errc::usage);
    EXPECT_EQ(code_of("capabilities=all,bogus"), std::nullopt); // "all" covers the rest
    EXPECT_EQ(code_of("count=lots"), Errc::usage);
    EXPECT_EQ(code_of("5000"), Errc::usage);
    EXPECT_EQ(code_of("driver=amd"), std::nullopt); // the vendor: the GPU layer checks the name
    EXPECT_EQ(gpu_host::parse_gpus_flag("all,driver=amd").driver, "amd");
    EXPECT_FALSE(gpu_host::parse_gpus_flag("all").driver);
    EXPECT_EQ(code_of("all,driver="), Errc::usage);
    EXPECT_EQ(code_of("gpus=1"), Errc::usage);
    try {
        gpu_host::parse_gpus_flag("capabilities=bogus");
        FAIL() << "accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("--gpus: unsupported driver capability \"bogus\""),
                  std::string::npos);
    }
}

TEST(GpusFlag, DeviceListWords) {
    gpu_host::GpusFlag none;
    gpu_host::set_device_list(none, "none");
    EXPECT_TRUE(none.inject);
    EXPECT_TRUE(none.devices.empty());
    gpu_host::GpusFlag empty;
    gpu_host::set_device_list(empty, " ");
    EXPECT_FALSE(empty.inject);
    gpu_host::GpusFlag all;
    gpu_host::set_device_list(all, "0,all");
    EXPECT_TRUE(all.all);
    gpu_host::GpusFlag v;
    gpu_host::set_device_list(v, "0,void");
    EXPECT_FALSE(v.inject);
}

} // namespace gpu_gpus_flag_test
