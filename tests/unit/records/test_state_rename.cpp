// docker's rename and start's take-over on the state directory (records::StateDir::rename,
// take, save_current): a taken name is docker's conflict, the same name and an invalid one are
// refused, a created container (gantry create) keeps its name as an exited one does, and a
// running container's monitor saves under the name it has now.
#include "../support/temp_dir.hpp"
#include "records/state.hpp"
#include "util/error.hpp"

#include <filesystem>
#include <functional>
#include <gtest/gtest.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace records_state_rename_test {

using gantry::Errc;
using gantry::Error;
using gantry::records::ContainerState;
using gantry::records::StateDir;
using unit_support::TempDir;

namespace {

ContainerState exited(const std::string& name, const std::string& id) {
    ContainerState s;
    s.name = name;
    s.id = id;
    s.status = "exited";
    s.startable = true;
    return s;
}

Error error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "no error";
    return Error(Errc::internal, "");
}

} // namespace

TEST(StateRename, RenamesAndFindsByTheNewName) {
    TempDir t("gantry-state-rename");
    StateDir dir(t.path);
    { auto owner = dir.create(exited("old", "aaaaaaaaaaaa")); }
    auto s = dir.rename("old", "new");
    EXPECT_EQ(s.name, "new");
    EXPECT_FALSE(dir.find("old"));
    ASSERT_TRUE(dir.find("new"));
    EXPECT_EQ(dir.find("new")->id, "aaaaaaaaaaaa");
    EXPECT_EQ(dir.rename("aaaa", "newer").name, "newer"); // by an id prefix
}

TEST(StateRename, ATakenNameIsDockersConflict) {
    TempDir t("gantry-state-rename");
    StateDir dir(t.path);
    { auto a = dir.create(exited("a", "aaaaaaaaaaaa")); }
    { auto b = dir.create(exited("b", "bbbbbbbbbbbb")); }
    auto e = error_of([&] { dir.rename("a", "b"); });
    EXPECT_EQ(e.code(), Errc::conflict);
    EXPECT_EQ(e.message(), "Conflict. The container name \"/b\" is already in use by container "
                           "\"bbbbbbbbbbbb\". You have to remove (or rename) that container to be "
                           "able to reuse that name.");
    EXPECT_TRUE(dir.find("a"));
}

TEST(StateRename, TheSameNameAndAnInvalidOneAreRefused) {
    TempDir t("gantry-state-rename");
    StateDir dir(t.path);
    { auto a = dir.create(exited("a", "aaaaaaaaaaaa")); }
    auto same = error_of([&] { dir.rename("a", "a"); });
    EXPECT_EQ(same.message(), "Renaming a container with the same name as its current name");
    auto bad = error_of([&] { dir.rename("a", "-x"); });
    EXPECT_EQ(bad.code(), Errc::usage);
    EXPECT_NE(bad.message().find("Invalid container name (-x)"), std::string::npos);
    EXPECT_EQ(error_of([&] { dir.rename("nope", "b"); }).code(), Errc::not_found);
}

TEST(StateRename, ACreatedContainerKeepsItsNameButACrashedRunsDebrisDoesNot) {
    TempDir t("gantry-state-rename");
    StateDir dir(t.path);
    auto created = exited("c", "cccccccccccc");
    created.status = "created";
    { auto owner = dir.create(created); }
    EXPECT_EQ(error_of([&] { auto o = dir.create(exited("c", "dddddddddddd")); }).code(),
              Errc::conflict);
    auto debris = created;
    debris.name = "d";
    debris.startable = false; // a run that crashed before its start
    { auto owner = dir.create(debris); }
    auto again = dir.create(exited("d", "eeeeeeeeeeee"));
    EXPECT_EQ(dir.find("d")->id, "eeeeeeeeeeee");
}

TEST(StateRename, TakeLocksTheNameAndSaveCurrentFollowsARename) {
    TempDir t("gantry-state-rename");
    StateDir dir(t.path);
    auto s = exited("run", "ffffffffffff");
    { auto owner = dir.create(s); }
    auto owner = dir.take(s);
    EXPECT_EQ(error_of([&] { auto again = dir.take(s); }).code(), Errc::conflict);
    dir.rename("run", "renamed"); // while it "runs": its lock moves with the directory
    s.status = "running";
    EXPECT_TRUE(dir.save_current(s));
    EXPECT_EQ(s.name, "renamed");
    EXPECT_EQ(dir.find("renamed")->status, "exited"); // running, but no live pid: corrected
    ASSERT_TRUE(dir.remove("renamed"));
    EXPECT_FALSE(dir.save_current(s)); // removed: nothing saved
    EXPECT_FALSE(dir.find("renamed"));
}

} // namespace records_state_rename_test

namespace records_state_rename_test {

// list() reads each container's state once (it once looked each up by name, a scan per
// container: `ps -a` of 100 containers took 1.8 s); what is not a container's own directory (a
// removal's .removed-*, a state whose name is not its directory's) is not listed nor found.
TEST(StateList, EachContainerOnceAndNothingElse) {
    TempDir t("gantry-state-list");
    StateDir dir(t.path);
    for (int i = 0; i < 30; ++i) {
        std::string n = std::to_string(i);
        auto owner = dir.create(exited("c" + n, std::string(12 - n.size(), 'a') + n));
    }
    std::filesystem::rename(t.path / "c7", t.path / ".removed-x"); // remove()'s first step
    auto all = dir.list();
    EXPECT_EQ(all.size(), 29u);
    for (auto& s : all) EXPECT_NE(s.name, "c7");
    EXPECT_FALSE(dir.find("c7"));
    EXPECT_FALSE(dir.find("aaaaaaaaaaa7"));
    ASSERT_TRUE(dir.find("c12"));
    EXPECT_EQ(dir.find("aaaaaaaaaa12")->name, "c12");
}

// snapshots() shares the state cache's snapshots: listed twice, unchanged, the same objects;
// a state another process saved meanwhile is seen at the next listing, while a snapshot taken
// before stays as it was; a "running" record whose process is gone is listed exited (a copy:
// the cached record stays as saved).
TEST(StateList, SnapshotsSeeAnotherProcessesSave) {
    TempDir t("gantry-state-snapshots");
    StateDir dir(t.path);
    (void)dir.create(exited("a", "aaaaaaaaaaaa")); // its owner lock released at once
    auto before = dir.snapshots();
    ASSERT_EQ(before.size(), 1u);
    EXPECT_EQ(dir.snapshots()[0].get(), before[0].get());
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) { // another gantry process
        auto s = exited("a", "aaaaaaaaaaaa");
        s.exit_code = 3;
        s.labels["k"] = "v";
        StateDir(t.path).save(s);
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    auto after = dir.snapshots();
    ASSERT_EQ(after.size(), 1u);
    EXPECT_EQ(after[0]->exit_code, 3);
    EXPECT_EQ(after[0]->labels.at("k"), "v");
    EXPECT_EQ(before[0]->exit_code, 0);
    EXPECT_TRUE(before[0]->labels.empty());
    auto gone = exited("a", "aaaaaaaaaaaa");
    gone.status = "running";
    gone.pid = 0x3ffffff; // no such process
    dir.save(gone);
    for (int i = 0; i < 2; ++i) {
        auto listed = dir.snapshots();
        ASSERT_EQ(listed.size(), 1u);
        EXPECT_EQ(listed[0]->status, "exited");
        EXPECT_EQ(listed[0]->exit_code, 255);
    }
}

} // namespace records_state_rename_test
