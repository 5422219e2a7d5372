// gpu_vendors/backends: finding and choosing a GPU vendor for a host, when a run asks for GPUs at
// all, and the doctor's policy a run applies.
#include "gpu_vendors/all/backends.hpp"
#include "util/error.hpp"

#include <filesystem>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <optional>
#include <unistd.h>

namespace vendor_registry_test {

namespace gpu_vendors = gantry::gpu_vendors;
using gantry::Errc;
using gantry::Error;

namespace {

std::optional<Error> error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    return std::nullopt;
}

// An empty host: no driver of any vendor under its roots.
struct EmptyHost {
    std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                ("gantry-vendor-test-" + std::to_string(::getpid()));
    gpu_vendors::Roots roots;
    EmptyHost() {
        std::filesystem::create_directories(dir / "dev");
        roots = {dir.string(), dir.string(), dir.string()};
    }
    ~EmptyHost() { std::filesystem::remove_all(dir); }
    void touch(const std::string& rel) {
        std::filesystem::create_directories((dir / rel).parent_path());
        std::ofstream(dir / rel) << "x\n";
    }
};

} // namespace

TEST(VendorRegistry, FindsBackendsByName) {
    EXPECT_EQ(gpu_vendors::find("nvidia").name(), "nvidia");
    EXPECT_EQ(gpu_vendors::find("nvidia").cdi_kind(), "nvidia.com/gpu");
    EXPECT_EQ(gpu_vendors::find("intel").cdi_kind(), "intel.com/gpu");
    auto e = error_of([] { gpu_vendors::find("matrox"); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::usage);
    EXPECT_NE(e->hint().find("nvidia"), std::string::npos); // lists the names there are
    EXPECT_EQ(gpu_vendors::backends().front()->name(), "nvidia");
}

TEST(VendorRegistry, ChoosesTheDefaultWithoutADriverAndTheAskedOneAlways) {
    EmptyHost h;
    if (std::filesystem::exists("/proc/driver/nvidia/version"))
        GTEST_SKIP() << "this host has an NVIDIA driver: not an empty host";
    EXPECT_FALSE(gpu_vendors::find("nvidia").present(h.roots));
    EXPECT_EQ(gpu_vendors::choose(h.roots, std::nullopt).name(), "nvidia");
    h.touch("dev/nvidiactl");
    EXPECT_TRUE(gpu_vendors::find("nvidia").present(h.roots));
    EXPECT_EQ(gpu_vendors::choose(h.roots, std::string("nvidia")).name(), "nvidia");
    EXPECT_TRUE(error_of([&] { gpu_vendors::choose(h.roots, std::string("nvidia ")); }));
}

// Several vendors present: the first in registry order, so an Intel iGPU beside an AMD GPU
// leaves AMD the default; Intel alone is chosen.
TEST(VendorRegistry, SeveralPresentChoosesTheFirstInRegistryOrder) {
    EmptyHost h;
    if (std::filesystem::exists("/proc/driver/nvidia/version"))
        GTEST_SKIP() << "this host has an NVIDIA driver: not an empty host";
    auto card = h.dir / "sys/devices/pci0000:00/0000:00:02.0";
    std::filesystem::create_directories(card / "drm/card0");
    std::filesystem::create_directories(h.dir / "sys/bus/pci/drivers/i915");
    std::ofstream(card / "vendor") << "0x8086\n";
    std::filesystem::create_symlink("../../../bus/pci/drivers/i915", card / "driver");
    std::filesystem::create_symlink("../../../0000:00:02.0", card / "drm/card0/device");
    std::filesystem::create_directories(h.dir / "sys/class/drm");
    std::filesystem::create_symlink("../../devices/pci0000:00/0000:00:02.0/drm/card0",
                                    h.dir / "sys/class/drm/card0");
    EXPECT_TRUE(gpu_vendors::find("intel").present(h.roots));
    EXPECT_EQ(gpu_vendors::choose(h.roots, std::nullopt).name(), "intel");
    std::filesystem::create_directories(h.dir / "sys/class/kfd/kfd/topology/nodes");
    EXPECT_TRUE(gpu_vendors::find("amd").present(h.roots));
    EXPECT_EQ(gpu_vendors::choose(h.roots, std::nullopt).name(), "amd");
    h.touch("dev/nvidiactl");
    EXPECT_EQ(gpu_vendors::choose(h.roots, std::nullopt).name(), "nvidia");
}

TEST(VendorRegistry, ARunThatAsksForNoGpuReadsNothing) {
    EmptyHost h;
    std::vector<std::string> env = {"PATH=/bin", "NVIDIA_VISIBLE_DEVICESX=all"};
    EXPECT_EQ(gpu_vendors::for_run(h.roots, std::nullopt, env, std::nullopt), nullptr);
    // a misspelt --gpu-vendor is still an error
    EXPECT_TRUE(error_of([&] { gpu_vendors::for_run(h.roots, std::string("nvdia"), env, {}); }));
    env.push_back("NVIDIA_VISIBLE_DEVICES=void"); // the contract's variable: the backend decides
    EXPECT_NE(gpu_vendors::for_run(h.roots, std::nullopt, env, std::nullopt), nullptr);
    EXPECT_NE(gpu_vendors::for_run(h.roots, std::nullopt, {}, std::string("all")), nullptr);
}

TEST(VendorRegistry, GpusDriverNamesTheVendor) {
    EmptyHost h;
    auto* b = gpu_vendors::for_run(h.roots, std::nullopt, {}, std::string("all,driver=amd"));
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->name(), "amd"); // though NVIDIA is the default vendor
    EXPECT_EQ(
        gpu_vendors::for_run(h.roots, std::string("amd"), {}, std::string("count=1,driver=amd"))
            ->name(),
        "amd");
    EXPECT_EQ(gpu_vendors::for_run(h.roots, {}, {}, std::string("all,driver=intel"))->name(),
              "intel");
    auto e = error_of([&] { gpu_vendors::for_run(h.roots, {}, {}, std::string("driver=matrox")); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::usage);
    EXPECT_NE(e->message().find("--gpus driver=matrox: no such GPU vendor"), std::string::npos);
    EXPECT_NE(e->hint().find("driver=nvidia"), std::string::npos);
    e = error_of([&] {
        gpu_vendors::for_run(h.roots, std::string("nvidia"), {}, std::string("all,driver=amd"));
    });
    ASSERT_TRUE(e);
    EXPECT_NE(e->message().find("name different GPU vendors"), std::string::npos);
}

TEST(VendorRegistry, EnvValueTakesTheLastExactKey) {
    std::vector<std::string> env = {"A=1", "AB=2", "A=3", "B"};
    EXPECT_EQ(gpu_vendors::env_value(env, "A"), "3");
    EXPECT_EQ(gpu_vendors::env_value(env, "AB"), "2");
    EXPECT_FALSE(gpu_vendors::env_value(env, "B")); // no '=': not a value
    EXPECT_FALSE(gpu_vendors::env_value(env, "C"));
}

TEST(VendorPolicy, DoctorFailuresStopTheRunUnlessOverridden) {
    std::vector<gantry::findings::Finding> findings = {
        {"CUDA-DRIVER-TOO-OLD", gantry::findings::Severity::fail, "the driver is too old",
         "upgrade the driver"},
        {"SOME-WARNING", gantry::findings::Severity::warn, "a warning", ""}};
    auto e = error_of([&] { gpu_vendors::apply_policy(findings, nullptr); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::run_failed);
    EXPECT_EQ(e->message(), "the driver is too old");
    // the hint names the finding's fix and the way to run anyway
    EXPECT_EQ(e->hint(), "upgrade the driver; --no-require runs it anyway");
    e = error_of([&] { gpu_vendors::apply_policy(findings, nullptr, "X=1 runs it anyway"); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->hint(), "upgrade the driver; X=1 runs it anyway");
    EXPECT_FALSE(error_of([&] { gpu_vendors::apply_policy(findings, "--no-require"); }));
    findings.erase(findings.begin()); // warnings alone never stop a run
    EXPECT_FALSE(error_of([&] { gpu_vendors::apply_policy(findings, nullptr); }));
}

} // namespace vendor_registry_test
