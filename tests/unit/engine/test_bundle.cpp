// engine::write_bundle against a fixture store: the bundle runc and crun run, written beside
// its place and renamed into it, and the directories it refuses.
#include "engine/engine.hpp"
#include "fixture_store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <filesystem>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace engine_bundle_test {

using gantry::Errc;
using gantry::Error;
using gantry::engine::Caller;
using gantry::engine::RunRequest;
using gantry::testing::FixtureStore;
namespace stdfs = std::filesystem;

namespace {

const nlohmann::json kConfig = {{"Cmd", {"/bin/sh"}}};
const std::map<std::string, std::string> kFiles = {{"etc/passwd", "root:x:0:0::/root:/bin/sh\n"},
                                                   {"bin/sh", "#!"}};

} // namespace

TEST(EngineBundle, WritesConfigAndRootfs) {
    FixtureStore fx;
    fx.add_image("sample:1", kConfig, kFiles);
    RunRequest r;
    r.image = "sample:1";
    r.command = {"/bin/echo", "hi"};
    r.env = {"A=1"};
    r.shm_size = "128m";
    auto dir = (fx.dir() / "bundle").string();
    auto caller = Caller::current();
    gantry::engine::write_bundle(fx.store(), r, dir, caller);
    EXPECT_EQ(gantry::fs::read_file(dir + "/rootfs/bin/sh"), "#!");
    auto cfg = nlohmann::json::parse(gantry::fs::read_file(dir + "/config.json"));
    EXPECT_EQ(cfg["process"]["args"], (nlohmann::json{"/bin/echo", "hi"}));
    EXPECT_EQ(cfg["hostname"], "gantry");
    bool user_ns = false;
    for (auto& ns : cfg["linux"]["namespaces"]) user_ns |= ns["type"] == "user";
    EXPECT_EQ(user_ns, !caller.real_root); // runc and crun as root: no user namespace
    for (auto& m : cfg["mounts"]) {        // the runtimes make their own device nodes
        bool dev_bind = m.value("type", "") == "bind" &&
                        m.value("destination", "").starts_with("/dev/") &&
                        m.value("source", "") == m.value("destination", "");
        EXPECT_FALSE(dev_bind) << m.dump();
    }
    // nothing but the bundle is left beside it
    for (auto& e : stdfs::directory_iterator(fx.dir()))
        EXPECT_TRUE(e.path().filename() == "bundle" || e.path().filename() == "store") << e.path();
}

TEST(EngineBundle, RefusesANonEmptyDirectoryAndLeavesIt) {
    FixtureStore fx;
    fx.add_image("sample:1", kConfig, kFiles);
    auto dir = fx.dir() / "taken";
    stdfs::create_directories(dir);
    gantry::fs::write_atomic(dir / "mine", "keep");
    RunRequest r;
    r.image = "sample:1";
    try {
        gantry::engine::write_bundle(fx.store(), r, dir.string(), Caller::current());
        FAIL() << "a non-empty directory was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::conflict);
        EXPECT_NE(e.message().find("not empty"), std::string::npos);
    }
    EXPECT_EQ(gantry::fs::read_file(dir / "mine"), "keep");
}

TEST(EngineBundle, AnEmptyDirectoryIsReplaced) {
    FixtureStore fx;
    fx.add_image("sample:1", kConfig, kFiles);
    auto dir = fx.dir() / "empty";
    stdfs::create_directories(dir);
    RunRequest r;
    r.image = "sample:1";
    gantry::engine::write_bundle(fx.store(), r, dir.string(), Caller::current());
    EXPECT_TRUE(stdfs::exists(dir / "config.json"));
}

} // namespace engine_bundle_test
