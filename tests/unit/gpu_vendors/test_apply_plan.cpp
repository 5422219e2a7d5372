// gpu_vendors/apply_plan: a vendor's CDI description applied per door. gantry run does gantry's
// own hooks in-process (links, the linker cache, a vendor's file overlays) and runs any other;
// bundles and gantry oci get every hook in the spec for the runtime to run.
#include "../support/temp_dir.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "gpu_vendors/apply_plan.hpp"
#include "util/error.hpp"

#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

namespace vendor_apply_plan_test {

using namespace gantry;

namespace {

const std::string kGantry = "/opt/gantry/bin/gantry";

cdi::Hook hook(const std::string& path, std::vector<std::string> args) {
    return {"createContainer", path, std::move(args), {"PATH=/usr/bin:/bin"}, std::nullopt};
}

// A plan as a vendor makes one: a spec-wide mount and the three kinds of hook, one device.
gpu_vendors::GpuPlan plan_with_hooks(const std::string& params) {
    gpu_vendors::GpuPlan plan;
    plan.spec.cdi_version = "0.5.0";
    plan.spec.kind = "nvidia.com/gpu";
    auto& e = plan.spec.edits;
    e.env.push_back("NVIDIA_VISIBLE_DEVICES=void");
    e.mounts.push_back(
        {"/host/lib/libcuda.so.1.1", "/usr/lib64/libcuda.so.1.1", {"ro", "rbind"}, ""});
    e.hooks.push_back(hook(kGantry, {"gantry", "hook", "create-symlinks", "--link",
                                     "libcuda.so.1.1::/usr/lib64/libcuda.so.1"}));
    e.hooks.push_back(hook(kGantry, {"gantry", "hook", "update-ldcache", "--folder",
                                     "/usr/local/cuda/compat", "--folder", "/usr/lib64"}));
    e.hooks.push_back(
        hook(kGantry, {"gantry", "hook", "disable-device-node-modification", "--params", params}));
    e.hooks.push_back(hook("/usr/bin/other-hook", {"other-hook", "x"}));
    cdi::Device d;
    d.name = "0";
    d.edits.env.push_back("GPU0=1");
    plan.spec.devices.push_back(d);
    plan.devices = {"0"};
    return plan;
}

} // namespace

TEST(ApplyPlan, RunDoesGantrysOwnHooksInProcessAndRunsTheOthers) {
    unit_support::TempDir dir("apply-plan");
    std::string params = (dir.path / "params").string();
    std::ofstream(params) << "ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 1\n";
    std::vector<std::string> env{"NVIDIA_VISIBLE_DEVICES=all"};
    std::optional<std::string> gpus;
    gpu_vendors::Roots roots;
    gpu_vendors::GpuContext ctx{gpu_vendors::Door::run, env, gpus, roots};
    ctx.gantry_path = kGantry;
    oci::RuntimeSpec spec;
    spec.env = env;
    spec.mounts.push_back({"/data", "bind", "/srv/data", {"bind"}});
    const auto& nvidia = gpu_vendors::find("nvidia");
    auto added = gpu_vendors::apply_plan(spec, nvidia, plan_with_hooks(params), ctx,
                                         dir.path.string(), nullptr);
    EXPECT_EQ(added, std::vector<std::string>{"nvidia.com/gpu=0"});
    // CDI's env: the variable replaced, not added twice
    EXPECT_EQ(spec.env, (std::vector<std::string>{"NVIDIA_VISIBLE_DEVICES=void", "GPU0=1"}));
    // the user's mount first, as given: run keeps the order
    ASSERT_EQ(spec.mounts.size(), 2u);
    EXPECT_EQ(spec.mounts[0].destination, "/data");
    EXPECT_EQ(spec.mounts[1].destination, "/usr/lib64/libcuda.so.1.1");
    // gantry's own hooks as the launcher's setup
    EXPECT_EQ(spec.setup.symlinks, (std::vector<std::pair<std::string, std::string>>{
                                       {"/usr/lib64/libcuda.so.1", "libcuda.so.1.1"}}));
    ASSERT_EQ(spec.setup.ld_conf.size(), 1u);
    EXPECT_EQ(spec.setup.ld_conf[0].second, "/usr/local/cuda/compat\n/usr/lib64\n");
    EXPECT_TRUE(spec.setup.ldconfig);
    ASSERT_EQ(spec.setup.overlays.size(), 1u);
    EXPECT_EQ(spec.setup.overlays[0].second, "/proc/driver/nvidia/params");
    std::ifstream copy(spec.setup.overlays[0].first);
    std::stringstream text;
    text << copy.rdbuf();
    EXPECT_NE(text.str().find("ModifyDeviceFiles: 0"), std::string::npos) << text.str();
    // any other hook is run by the launcher
    ASSERT_EQ(spec.hooks["createContainer"].size(), 1u);
    EXPECT_EQ(spec.hooks["createContainer"][0].path, "/usr/bin/other-hook");
}

TEST(ApplyPlan, BundlesAndOciGetEveryHookInTheSpec) {
    std::vector<std::string> env;
    std::optional<std::string> gpus;
    gpu_vendors::Roots roots;
    for (auto door : {gpu_vendors::Door::bundle, gpu_vendors::Door::oci}) {
        gpu_vendors::GpuContext ctx{door, env, gpus, roots};
        ctx.gantry_path = kGantry;
        oci::RuntimeSpec spec;
        gpu_vendors::apply_plan(spec, gpu_vendors::find("nvidia"), plan_with_hooks("/none"), ctx,
                                "", nullptr);
        EXPECT_EQ(spec.hooks["createContainer"].size(), 4u);
        EXPECT_TRUE(spec.setup.symlinks.empty());
        EXPECT_FALSE(spec.setup.ldconfig);
    }
}

TEST(ApplyPlan, ADeviceNotInTheDescriptionIsNotFound) {
    std::vector<std::string> env;
    std::optional<std::string> gpus;
    gpu_vendors::Roots roots;
    gpu_vendors::GpuContext ctx{gpu_vendors::Door::run, env, gpus, roots};
    auto plan = plan_with_hooks("/none");
    plan.devices = {"7"};
    oci::RuntimeSpec spec;
    try {
        gpu_vendors::apply_plan(spec, gpu_vendors::find("nvidia"), plan, ctx, "", nullptr);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
        EXPECT_NE(e.message().find("nvidia.com/gpu=7"), std::string::npos) << e.message();
    }
    EXPECT_TRUE(spec.env.empty()); // nothing half-done
}

} // namespace vendor_apply_plan_test
