// engine::prepare against a fixture store: the spec it builds from the image and the request,
// the errors a user can cause (each before anything is left behind), and the early start's one
// decision.
#include "engine/engine.hpp"
#include "engine/options.hpp"
#include "fixture_store.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <vector>

namespace engine_prepare_test {

using gantry::Errc;
using gantry::Error;
using gantry::engine::Caller;
using gantry::engine::RunRequest;
using gantry::testing::FixtureStore;
namespace engine = gantry::engine;

namespace {

const nlohmann::json kConfig = {{"Env", {"PATH=/usr/bin:/bin", "FROM_IMAGE=1"}},
                                {"Cmd", {"/bin/sh", "-c", "echo hi"}},
                                {"WorkingDir", "/srv"}};
const std::map<std::string, std::string> kFiles = {
    {"etc/passwd", "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"},
    {"bin/sh", "#!"}};

// The host's root: no user namespace maps to look up and no early start.
Caller root_caller() {
    Caller c;
    c.real_root = true;
    return c;
}

// An unprivileged user with the single-id map (no /etc/subuid lookup).
Caller user_caller(uid_t uid = 1000) {
    Caller c;
    c.uid = uid;
    c.gid = uid;
    auto& m = c.subid_maps.emplace();
    m[0] = {{0, uid, 1}};
    m[1] = {{0, uid, 1}};
    return c;
}

std::optional<Error> error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    return std::nullopt;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// Nothing a failed prepare could have left: no container directory, no hold.
void expect_nothing_left(FixtureStore& fx) {
    auto containers = fx.store().root() / "containers";
    EXPECT_TRUE(!std::filesystem::exists(containers) || std::filesystem::is_empty(containers));
    EXPECT_TRUE(fx.store().holds().empty());
}

} // namespace

TEST(EnginePrepare, BuildsTheSpecFromImageAndRequest) {
    FixtureStore fx;
    fx.add_image("sample:1", kConfig, kFiles);
    RunRequest r;
    r.image = "sample:1";
    r.command = {"/bin/true", "x"};
    r.env = {"FROM_FLAG=2"};
    r.user = "alice";
    r.read_only = true;
    auto p = engine::prepare(fx.store(), r, root_caller());
    EXPECT_EQ(p.spec.args, (std::vector<std::string>{"/bin/true", "x"}));
    EXPECT_TRUE(has(p.spec.env, "FROM_IMAGE=1"));
    EXPECT_TRUE(has(p.spec.env, "FROM_FLAG=2"));
    EXPECT_TRUE(has(p.spec.env, "HOME=/home/alice")); // from the image's passwd
    EXPECT_EQ(p.spec.uid, 1000u);
    EXPECT_EQ(p.spec.cwd, "/srv");
    EXPECT_EQ(p.id.size(), 12u);
    EXPECT_EQ(p.layer.layer, gantry::store::Layer::none); // --read-only
    EXPECT_TRUE(p.options.privileged_user);
    EXPECT_FALSE(p.early);
    // the environment the GPU request was read from is the one the spec got
    ASSERT_TRUE(p.options.environment);
    EXPECT_TRUE(has(*p.options.environment, "FROM_FLAG=2"));
    EXPECT_TRUE(fx.store().images_in_use().count(p.view.image.manifest_digest));
}

TEST(EnginePrepare, RootlessSpecMapsTheCallersId) {
    FixtureStore fx;
    fx.add_image("sample:1", kConfig, kFiles);
    RunRequest r;
    r.image = "sample:1";
    r.init = true; // keeps it off the early start: this test starts no process
    auto p = engine::prepare(fx.store(), r, user_caller(4321));
    EXPECT_FALSE(p.options.privileged_user);
    ASSERT_EQ(p.spec.uid_mappings.size(), 1u);
    EXPECT_EQ(p.spec.uid_mappings[0].host_id, 4321u);
    EXPECT_EQ(p.spec.args, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
    EXPECT_FALSE(p.early);
}

TEST(EnginePrepare, UserErrorsNameTheFlagAndLeaveNothing) {
    FixtureStore fx;
    fx.add_image("sample:1", kConfig, kFiles);
    struct Case {
        std::function<void(RunRequest&)> set;
        Errc code;
        std::string says;
    };
    std::vector<Case> cases = {
        {[](RunRequest& r) { r.image.clear(); }, Errc::invalid, "invalid image reference \"\""},
        {[](RunRequest& r) { r.network = "mynet"; }, Errc::not_found, "network mynet not found"},
        {[](RunRequest& r) { r.network_aliases = {"db"}; }, Errc::usage, "--network-alias db"},
        {[](RunRequest& r) {
             r.network = "bridge";
             r.more_networks = {"mynet"};
         },
         Errc::usage, "--network bridge --network mynet"},
        {[](RunRequest& r) {
             r.network = "mynet";
             r.more_networks = {"mynet"};
         },
         Errc::usage, "--network mynet is given twice"},
        {[](RunRequest& r) {
             r.network = "mynet";
             r.more_networks = {"othernet"};
         },
         Errc::not_found, "network mynet not found"},
        {[](RunRequest& r) { r.ipc = "container:x"; }, Errc::usage, "--ipc"},
        {[](RunRequest& r) {
             r.ipc = "host";
             r.shm_size = "1g";
         },
         Errc::usage, "--shm-size"},
        {[](RunRequest& r) { r.publish = {"80:8080"}; }, Errc::usage, "-p 80:8080"},
        {[](RunRequest& r) { r.runtime = "runc"; }, Errc::usage, "--runtime runc"},
        {[](RunRequest& r) { r.userns = "host"; }, Errc::usage, "--userns"},
        {[](RunRequest& r) { r.pid = "container:x"; }, Errc::usage, "--pid"},
        {[](RunRequest& r) { r.security_opt = {"apparmor=x"}; }, Errc::usage, "--security-opt"},
        {[](RunRequest& r) { r.write_warn = "lots"; }, Errc::usage, "--write-warn"},
        {[](RunRequest& r) { r.memory = "1x"; }, Errc::usage, "--memory"},
        {[](RunRequest& r) { r.writable_layer = "ram"; }, Errc::usage, "--writable-layer"},
        {[](RunRequest& r) { r.devices = {"nvidia.com/gpu"}; }, Errc::usage, "not a CDI device"},
        {[](RunRequest& r) { r.image = "missing:1"; }, Errc::not_found, "missing"},
        {[](RunRequest& r) { r.workdir = "relative"; }, Errc::usage, "-w"},
    };
    for (auto& c : cases) {
        RunRequest r;
        r.image = "sample:1";
        c.set(r);
        auto e = error_of([&] { engine::prepare(fx.store(), r, root_caller()); });
        ASSERT_TRUE(e) << c.says;
        EXPECT_EQ(e->code(), c.code) << e->message();
        EXPECT_NE(e->message().find(c.says), std::string::npos) << e->message();
        expect_nothing_left(fx);
    }
}

TEST(EnginePrepare, RefusesAnImageForAnotherArchitecture) {
    FixtureStore fx;
    std::string other = gantry::oci::Platform::host().architecture == "arm64" ? "amd64" : "arm64";
    fx.add_image("foreign:1", kConfig, kFiles, other);
    RunRequest r;
    r.image = "foreign:1";
    // a host whose binfmt_misc is not mounted (binfmt/handlers.hpp): nothing runs the image
    // (with qemu-user-static's handler, tests/e2e/test_foreign_platform.py runs one)
    ::setenv("GANTRY_PROC_ROOT", (fx.dir() / "proc").c_str(), 1);
    auto e = error_of([&] { engine::prepare(fx.store(), r, root_caller()); });
    ::unsetenv("GANTRY_PROC_ROOT");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::run_failed);
    EXPECT_NE(e->message().find("built for linux/" + other), std::string::npos) << e->message();
    EXPECT_NE(e->message().find("binfmt_misc is not mounted"), std::string::npos) << e->message();
    // --platform naming another platform than the stored image's, where no pull is allowed
    r.image = "foreign:1";
    r.pull = "never";
    r.platform = gantry::oci::Platform::host().str();
    e = error_of([&] { engine::prepare(fx.store(), r, root_caller()); });
    ASSERT_TRUE(e);
    EXPECT_NE(e->message().find("not the " + r.platform + " that --platform asks for"),
              std::string::npos)
        << e->message();
    expect_nothing_left(fx);
}

TEST(EnginePrepare, AnImageWithoutACommandNeedsOne) {
    FixtureStore fx;
    fx.add_image("nocmd:1", {{"Env", {"A=1"}}}, kFiles);
    RunRequest r;
    r.image = "nocmd:1";
    auto e = error_of([&] { engine::prepare(fx.store(), r, root_caller()); });
    ASSERT_TRUE(e);
    EXPECT_NE(e->message().find("no command specified"), std::string::npos);
    expect_nothing_left(fx);
}

TEST(EnginePrepare, GpusFromTheImagesContractWithoutADriverFail) {
    FixtureStore fx;
    auto cfg = kConfig;
    cfg["Env"].push_back("NVIDIA_VISIBLE_DEVICES=all");
    fx.add_image("cuda:1", cfg, kFiles);
    RunRequest r;
    r.image = "cuda:1";
    r.gpu_roots.driver_root = (fx.dir() / "no-driver").string(); // an empty host: no driver
    r.gpu_roots.dev_root = r.gpu_roots.driver_root;              // and no devices
    std::filesystem::create_directories(r.gpu_roots.driver_root);
    auto e = error_of([&] { engine::prepare(fx.store(), r, root_caller()); });
    ASSERT_TRUE(e) << "the image asks for GPUs; a host without a driver cannot give them";
    expect_nothing_left(fx);
    // NVIDIA_VISIBLE_DEVICES=void (or no request at all) injects nothing and needs no driver
    r.env = {"NVIDIA_VISIBLE_DEVICES=void"};
    auto p = engine::prepare(fx.store(), r, root_caller());
    EXPECT_TRUE(has(p.spec.env, "NVIDIA_VISIBLE_DEVICES=void"));
}

TEST(EngineStart, OneDecisionForTheEarlyStart) {
    auto c = user_caller();
    RunRequest r;
    EXPECT_TRUE(engine::may_start_early(r, c));
    for (auto set : std::vector<std::function<void(RunRequest&)>>{
             [](RunRequest& q) { q.detach = true; }, [](RunRequest& q) { q.init = true; },
             [](RunRequest& q) { q.memory = "1g"; }, [](RunRequest& q) { q.cpus = "1"; },
             [](RunRequest& q) { q.pids_limit = "10"; }}) {
        RunRequest q;
        set(q);
        EXPECT_FALSE(engine::may_start_early(q, c));
    }
    auto root = root_caller();
    EXPECT_FALSE(engine::may_start_early(r, root));
    auto uid0 = user_caller(0); // uid 0 of a user namespace: the plain path
    EXPECT_FALSE(engine::may_start_early(r, uid0));
    auto subids = user_caller();
    subids.subid_maps->at(0).push_back({1, 100000, 65536});
    EXPECT_FALSE(engine::may_start_early(r, subids)); // newuidmap writes those maps
    r.userns = "single";                              // ... unless the user asks for one id
    EXPECT_TRUE(engine::may_start_early(r, subids));
}

TEST(EngineOptions, WritableLayerGrammar) {
    RunRequest r;
    r.writable_layer = "disk";
    EXPECT_EQ(engine::writable_layer(r).layer, gantry::store::Layer::disk);
    r.read_only = true;
    EXPECT_EQ(engine::writable_layer(r).layer, gantry::store::Layer::none);
    r.read_only = false;
    if (gantry::runtime::tmpfs_has_user_xattrs()) {
        r.writable_layer = "memory:8m";
        auto l = engine::writable_layer(r);
        EXPECT_EQ(l.layer, gantry::store::Layer::memory);
        EXPECT_EQ(l.size, 8u << 20);
        r.writable_layer = "memory:0";
        EXPECT_TRUE(error_of([&] { engine::writable_layer(r); }));
    }
    r.writable_layer = "memoryx";
    EXPECT_TRUE(error_of([&] { engine::writable_layer(r); }));
}

TEST(EngineOptions, ShmSizeIsBinaryAndAboveZero) {
    EXPECT_EQ(engine::shm_size("64m"), 64u << 20);
    EXPECT_EQ(engine::shm_size("1g"), 1u << 30);
    EXPECT_TRUE(error_of([] { engine::shm_size("0"); }));
    EXPECT_TRUE(error_of([] { engine::shm_size("big"); }));
}

} // namespace engine_prepare_test
