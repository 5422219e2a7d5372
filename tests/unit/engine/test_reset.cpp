// engine::plan_reset and engine::reset (`gantry system reset`): a store removed whole with the
// containers recorded with it (a running one stopped first, as podman's reset does), others'
// containers left alone, and the refusals that remove nothing: a directory that is not a store,
// a foreground run holding one of its images, a command writing to it.
#include "../support/temp_dir.hpp"
#include "engine/reset.hpp"
#include "fixture_store.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <csignal>
#include <filesystem>
#include <functional>
#include <gtest/gtest.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace engine_reset_test {

using gantry::Errc;
using gantry::Error;
using gantry::engine::plan_reset;
using gantry::engine::reset;
using gantry::records::ContainerState;
using gantry::records::StateDir;
using gantry::testing::FixtureStore;
using unit_support::TempDir;
namespace stdfs = std::filesystem;

namespace {

const nlohmann::json kConfig = {{"Cmd", {"/bin/sh"}}};

// A container recorded in STATES as `run -d` leaves it (no monitor: it has ended or, with PID,
// it runs without one).
void record(StateDir& states, const std::string& name, const stdfs::path& store, pid_t pid = 0) {
    ContainerState s;
    s.name = name;
    s.id = name + "0123456789";
    s.store_root = store.string();
    s.container_dir = (store / "containers" / s.id).string();
    s.status = pid ? "running" : "exited";
    s.pid = pid;
    s.pid_start = pid ? gantry::records::process_start_time(pid) : 0;
    s.monitor = 0;
    auto owner = states.create(s);
    states.save(s);
}

Errc code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("nothing was removed"), std::string::npos) << e.message();
        EXPECT_FALSE(e.hint().empty());
        return e.code();
    }
    ADD_FAILURE() << "no error";
    return Errc::internal;
}

} // namespace

TEST(EngineReset, RemovesTheStoreAndStopsItsContainers) {
    FixtureStore fx;
    fx.add_image("sample:1", kConfig, {{"bin/sh", "#!"}});
    auto root = fx.store().root();
    // what a store holds besides images: a discarded container's overlay work dir, mode 000
    stdfs::create_directories(root / "trash/c1/work/work/sub");
    stdfs::permissions(root / "trash/c1/work/work", stdfs::perms::none);
    TempDir run("gantry-reset-run");
    StateDir states(run.path / "gantry");
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    record(states, "up", root, child);
    record(states, "done", root);
    record(states, "elsewhere", fx.dir() / "other-store");

    auto plan = plan_reset(root.string() + "/", states); // a trailing slash names it too
    EXPECT_TRUE(plan.exists);
    EXPECT_EQ(plan.root, root);
    EXPECT_EQ(plan.images, 1u);
    EXPECT_EQ(plan.containers.size(), 2u);
    EXPECT_EQ(plan.running, 1u);
    auto text = gantry::engine::describe(plan);
    EXPECT_NE(text.find(root.string()), std::string::npos) << text;
    EXPECT_NE(text.find("2 container(s), stopping the 1 running"), std::string::npos) << text;

    auto r = reset(plan, states);
    EXPECT_EQ(r.containers, 2u);
    EXPECT_FALSE(stdfs::exists(root));
    for (auto& e : stdfs::directory_iterator(root.parent_path())) // renamed away, then deleted
        EXPECT_EQ(e.path().filename().string().find(".store.reset-"), std::string::npos);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child); // stopped: SIGTERM, then SIGKILL (rm -f)
    EXPECT_TRUE(WIFSIGNALED(status)) << status;
    ASSERT_EQ(states.list().size(), 1u); // another store's container stays, and so do the caches
    EXPECT_EQ(states.list()[0].name, "elsewhere");
    EXPECT_FALSE(r.runtime_dir_removed);
    EXPECT_TRUE(stdfs::exists(states.dir()));

    // the other store's reset leaves no container: the runtime directory goes too
    auto other = fx.dir() / "other-store";
    gantry::store::Store made(other);
    auto r2 = reset(plan_reset(other, states), states);
    EXPECT_EQ(r2.containers, 1u);
    EXPECT_TRUE(r2.runtime_dir_removed);
    EXPECT_FALSE(stdfs::exists(other));
    EXPECT_FALSE(stdfs::exists(run.path / "gantry"));
}

TEST(EngineReset, NoStoreIsNothingToRemove) {
    TempDir t("gantry-reset");
    StateDir states(t.path / "run");
    stdfs::create_directories(t.path / "run/gpu-cache"); // a cache, not a container
    auto plan = plan_reset(t.path / "none", states);
    EXPECT_FALSE(plan.exists);
    EXPECT_TRUE(plan.containers.empty());
    auto r = reset(plan, states);
    EXPECT_EQ(r.containers, 0u);
    EXPECT_FALSE(stdfs::exists(t.path / "none")); // not made
}

TEST(EngineReset, RefusesADirectoryThatIsNotAStore) {
    TempDir t("gantry-reset");
    StateDir states(t.path / "run");
    stdfs::create_directories(t.path / "home/.cache");
    gantry::fs::write_atomic(t.path / "home/notes.txt", "mine\n", 0644);
    try {
        plan_reset(t.path / "home", states);
        FAIL() << "a home directory was taken for a store";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find("is not a gantry store"), std::string::npos) << e.message();
        EXPECT_NE(e.hint().find("--root"), std::string::npos) << e.hint();
    }
    EXPECT_TRUE(stdfs::exists(t.path / "home/notes.txt"));
}

TEST(EngineReset, RefusesWhileAForegroundRunOrAWriterUsesTheStore) {
    FixtureStore fx;
    auto image = fx.add_image("sample:1", kConfig, {{"bin/sh", "#!"}});
    auto root = fx.store().root();
    TempDir run("gantry-reset-run");
    StateDir states(run.path / "gantry");
    record(states, "done", root);
    auto plan = plan_reset(root, states);
    {
        auto use = fx.store().use_image(image); // `gantry run` in the foreground, unnamed
        EXPECT_EQ(code_of([&] { reset(plan, states); }), Errc::conflict);
    }
    {
        auto writing = fx.store().writer_lock(); // a pull, load or build in flight
        EXPECT_EQ(code_of([&] { reset(plan, states); }), Errc::conflict);
    }
    EXPECT_TRUE(fx.store().has_blob(image)); // nothing was removed
    EXPECT_EQ(states.list().size(), 1u);
    EXPECT_EQ(reset(plan, states).containers, 1u); // and once they are gone, it resets
    EXPECT_FALSE(stdfs::exists(root));
}

} // namespace engine_reset_test
