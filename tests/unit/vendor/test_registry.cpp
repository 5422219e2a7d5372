// vendor/registry: finding and choosing a GPU vendor for a host, when a run asks for GPUs at all,
// and the doctor's policy a run applies.
#include "util/error.hpp"
#include "vendor/backend.hpp"

#include <filesystem>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <optional>
#include <unistd.h>

namespace vendor_registry_test {

namespace vendor = gantry::vendor;
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
    vendor::Roots roots;
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
    EXPECT_EQ(vendor::find("nvidia").name(), "nvidia");
    EXPECT_EQ(vendor::find("nvidia").cdi_kind(), "nvidia.com/gpu");
    auto e = error_of([] { vendor::find("intel"); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::usage);
    EXPECT_NE(e->hint().find("nvidia"), std::string::npos); // lists the names there are
    EXPECT_EQ(vendor::backends().front()->name(), "nvidia");
}

TEST(VendorRegistry, ChoosesTheDefaultWithoutADriverAndTheAskedOneAlways) {
    EmptyHost h;
    if (std::filesystem::exists("/proc/driver/nvidia/version"))
        GTEST_SKIP() << "this host has an NVIDIA driver: not an empty host";
    EXPECT_FALSE(vendor::find("nvidia").present(h.roots));
    EXPECT_EQ(vendor::choose(h.roots, std::nullopt).name(), "nvidia");
    h.touch("dev/nvidiactl");
    EXPECT_TRUE(vendor::find("nvidia").present(h.roots));
    EXPECT_EQ(vendor::choose(h.roots, std::string("nvidia")).name(), "nvidia");
    EXPECT_TRUE(error_of([&] { vendor::choose(h.roots, std::string("nvidia ")); }));
}

TEST(VendorRegistry, ARunThatAsksForNoGpuReadsNothing) {
    EmptyHost h;
    std::vector<std::string> env = {"PATH=/bin", "NVIDIA_VISIBLE_DEVICESX=all"};
    EXPECT_EQ(vendor::for_run(h.roots, std::nullopt, env, std::nullopt), nullptr);
    // a misspelt --gpu-vendor is still an error
    EXPECT_TRUE(error_of([&] { vendor::for_run(h.roots, std::string("nvdia"), env, {}); }));
    env.push_back("NVIDIA_VISIBLE_DEVICES=void"); // the contract's variable: the backend decides
    EXPECT_NE(vendor::for_run(h.roots, std::nullopt, env, std::nullopt), nullptr);
    EXPECT_NE(vendor::for_run(h.roots, std::nullopt, {}, std::string("all")), nullptr);
}

TEST(VendorRegistry, EnvValueTakesTheLastExactKey) {
    std::vector<std::string> env = {"A=1", "AB=2", "A=3", "B"};
    EXPECT_EQ(vendor::env_value(env, "A"), "3");
    EXPECT_EQ(vendor::env_value(env, "AB"), "2");
    EXPECT_FALSE(vendor::env_value(env, "B")); // no '=': not a value
    EXPECT_FALSE(vendor::env_value(env, "C"));
}

TEST(VendorPolicy, DoctorFailuresStopTheRunUnlessOverridden) {
    std::vector<gantry::compat::Finding> findings = {
        {"CUDA-DRIVER-TOO-OLD", gantry::compat::Severity::fail, "the driver is too old",
         "upgrade the driver"},
        {"SOME-WARNING", gantry::compat::Severity::warn, "a warning", ""}};
    auto e = error_of([&] { vendor::apply_policy(findings, nullptr); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::run_failed);
    EXPECT_EQ(e->message(), "the driver is too old");
    // the hint names the finding's fix and the way to run anyway
    EXPECT_EQ(e->hint(), "upgrade the driver; --no-require runs it anyway");
    e = error_of([&] { vendor::apply_policy(findings, nullptr, "X=1 runs it anyway"); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->hint(), "upgrade the driver; X=1 runs it anyway");
    EXPECT_FALSE(error_of([&] { vendor::apply_policy(findings, "--no-require"); }));
    findings.erase(findings.begin()); // warnings alone never stop a run
    EXPECT_FALSE(error_of([&] { vendor::apply_policy(findings, nullptr); }));
}

} // namespace vendor_registry_test
