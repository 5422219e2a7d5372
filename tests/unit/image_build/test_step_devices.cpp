// Devices in gantry build's RUN steps: RUN --device's grammar, the device entitlement, and the
// rewrite that keeps the injected driver's linker set-up and hooks out of the root.
#include "image_build/step_devices.hpp"
#include "image_build/step_driver.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace build_step_devices_test {

using namespace gantry::image_build;
using gantry::Errc;
using gantry::Error;

namespace {
std::string message_of(auto&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.message();
    }
    return "";
}
} // namespace

TEST(BuildStepDevices, RunDeviceGrammar) {
    auto u = parse_run_device("nvidia.com/gpu=all", 3);
    EXPECT_EQ(u.name, "nvidia.com/gpu=all");
    EXPECT_FALSE(u.required);
    EXPECT_EQ(u.origin, "line 3: RUN --device");
    EXPECT_TRUE(parse_run_device("nvidia.com/gpu=0,required", 1).required);
    EXPECT_TRUE(parse_run_device("name=amd.com/gpu=1,required=true", 1).required);
    EXPECT_EQ(parse_run_device("name=amd.com/gpu=1,required=true", 1).name, "amd.com/gpu=1");
    EXPECT_FALSE(parse_run_device("vendor.com/x,required=false", 1).required);
    EXPECT_NE(message_of([] {
                  parse_run_device("x.com/y=1,shared", 2);
              }).find("'shared' is not name=, required or required=true|false"),
              std::string::npos);
    EXPECT_NE(message_of([] { parse_run_device("required", 2); }).find("no device name"),
              std::string::npos);
}

TEST(BuildStepDevices, TheDeviceEntitlement) {
    check_allow_values({"device", "device=nvidia.com/gpu"});
    EXPECT_NE(message_of([] {
                  check_allow_values({"security.insecure"});
              }).find("--allow security.insecure: gantry build grants only the device"),
              std::string::npos);
    EXPECT_THROW(check_allow_values({"device=a,alias=b"}), Error);
    DeviceUse gpu{"nvidia.com/gpu=0", false, false, "line 2: RUN --device"};
    check_allowed(gpu, {"device"});
    check_allowed(gpu, {"device=nvidia.com/gpu"});   // the kind
    check_allowed(gpu, {"device=nvidia.com/gpu=0"}); // the device
    EXPECT_NE(message_of([&] {
                  check_allowed(gpu, {});
              }).find("line 2: RUN --device=nvidia.com/gpu=0: devices in a build need"),
              std::string::npos);
    EXPECT_THROW(check_allowed(gpu, {"device=amd.com/gpu"}), Error);
    DeviceUse flag{"all", true, true, "--gpus"};
    EXPECT_THROW(check_allowed(flag, {"device=nvidia.com/gpu"}), Error); // --gpus: any vendor
    check_allowed(flag, {"device"});
}

TEST(BuildStepDevices, MalformedNamesAreRefused) {
    DeviceHost host;
    std::vector<std::string> skipped;
    for (const char* bad : {"gpu", "nvidia.com/", "nvidia.com/gpu=", "nogpu=0"}) {
        DeviceUse u{bad, false, false, "line 1: RUN --device"};
        try {
            resolve_devices({u}, host, skipped);
            ADD_FAILURE() << bad << " accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::usage) << bad;
        }
    }
}

TEST(BuildStepDriver, LinkerSetUpBecomesTheLibraryPath) {
    gantry::oci::RuntimeSpec spec;
    spec.env = {"PATH=/bin", "LD_LIBRARY_PATH=/opt/app/lib"};
    spec.mounts.push_back({"/usr/lib/x86_64-linux-gnu/libcuda.so.580.95.05",
                           "bind",
                           "/host/libcuda.so.580.95.05",
                           {"bind", "ro"}});
    spec.mounts.push_back({"/usr/bin/nvidia-smi", "bind", "/host/nvidia-smi", {"bind", "ro"}});
    spec.setup.symlinks = {{"/usr/lib/x86_64-linux-gnu/libcuda.so.1", "libcuda.so.580.95.05"}};
    spec.setup.ld_conf = {
        {"/etc/ld.so.conf.d/00-cuda-compat-gantry.conf", "/usr/local/cuda/compat\n"}};
    spec.setup.ldconfig = true;
    spec.setup.host_ldconfig = "/sbin/ldconfig";
    spec.hooks["createContainer"] = {
        {"/usr/bin/gantry",
         {"gantry", "hook", "create-symlinks", "--link", "/store/nvidia-smi::/usr/bin/nvsmi"},
         {},
         {}},
        {"/usr/bin/gantry",
         {"gantry", "hook", "update-ldcache", "--folder", "/store", "--folder=/usr/lib/wsl/lib"},
         {},
         {}},
        {"/usr/bin/gantry", {"gantry", "hook", "chmod", "--mode", "755"}, {}, {}}};
    auto t = confine_injection(spec);
    EXPECT_TRUE(spec.setup.ld_conf.empty());
    EXPECT_FALSE(spec.setup.ldconfig);
    EXPECT_TRUE(spec.setup.host_ldconfig.empty());
    ASSERT_EQ(spec.hooks["createContainer"].size(), 2u); // update-ldcache dropped
    EXPECT_EQ(spec.hooks["createContainer"][1].args[2], "chmod");
    // the compat directory first (its libcuda wins, as its drop-in did), then the driver's
    EXPECT_EQ(spec.env[1], "LD_LIBRARY_PATH=/usr/local/cuda/compat:/usr/lib/x86_64-linux-gnu:"
                           "/store:/usr/lib/wsl/lib:/opt/app/lib");
    EXPECT_EQ(t.symlinks.at("usr/lib/x86_64-linux-gnu/libcuda.so.1"), "libcuda.so.580.95.05");
    EXPECT_EQ(t.symlinks.at("usr/bin/nvsmi"), "/store/nvidia-smi");
    EXPECT_EQ(t.symlinks.size(), 2u);
}

} // namespace build_step_devices_test
