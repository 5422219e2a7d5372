// Claiming a container name (records::StateDir::create): the owner lock decides whether the name
// is in use, so a live owner whose recorded processes have just changed hands is never taken for
// a crashed run's debris; a free lock with a live-looking state is debris, and an exited
// container keeps its name until removed. Docker's conflict message either way.
#include "../support/temp_dir.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <filesystem>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace records_state_claim_test {

using unit_support::TempDir;
namespace stdfs = std::filesystem;
using gantry::Errc;
using gantry::Error;
using gantry::FileLock;
using gantry::records::ContainerState;
using gantry::records::StateDir;

namespace {

ContainerState state(const std::string& name, const std::string& id) {
    ContainerState s;
    s.name = name;
    s.id = id;
    s.monitor = ::getpid();
    return s;
}

// A pid that was a process and is no more (forked, exited and reaped).
pid_t dead_pid() {
    pid_t c = ::fork();
    if (c == 0) ::_exit(0);
    ::waitpid(c, nullptr, 0);
    return c;
}

// Rewrites the recorded state of NAME: its monitor (and status) as a hand-over would leave them
// for a moment, or as a crash leaves them.
void record(const StateDir& dir, const std::string& name, pid_t monitor,
            const std::string& status) {
    auto path = dir.dir() / name / "state.json";
    auto j = nlohmann::json::parse(gantry::fs::read_file(path, 1 << 20));
    j["monitor"] = monitor;
    j["status"] = status;
    gantry::fs::write_atomic(path, j.dump(), 0600);
}

Error conflict(StateDir& dir, const ContainerState& s) {
    try {
        auto owner = dir.create(s);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << s.name << " was claimed twice";
    return Error(Errc::internal, "", "");
}

} // namespace

TEST(Claim, HeldOwnerLockKeepsTheNameWhateverTheStateRecords) {
    // Regression: the name's owner (its -d monitor) had recorded itself, started the workload and
    // let the parent return between the second claimant's read of the state (which still named
    // the parent) and its look at that pid: the parent was gone, the name was taken for debris
    // and two containers ran as N.
    TempDir t("gantry-claim");
    StateDir dir(t.path);
    auto owner = dir.create(state("web", "aaaa1111"));
    ASSERT_TRUE(owner.held());
    record(dir, "web", dead_pid(), "created");
    auto e = conflict(dir, state("web", "bbbb2222"));
    EXPECT_EQ(e.code(), Errc::conflict);
    EXPECT_EQ(e.message(), "Conflict. The container name \"/web\" is already in use by container "
                           "\"aaaa1111\". You have to remove (or rename) that container to be "
                           "able to reuse that name.");
    EXPECT_NE(e.hint().find("gantry rm -f web"), std::string::npos) << e.hint();
    EXPECT_EQ(dir.get("web").id, "aaaa1111"); // the owner's record is untouched
}

TEST(Claim, FreeOwnerLockWithALiveLookingStateIsDebris) {
    // near miss: the same record once its owner is gone (kill -9 releases the lock)
    TempDir t("gantry-claim");
    StateDir dir(t.path);
    {
        auto owner = dir.create(state("web", "aaaa1111"));
        record(dir, "web", dead_pid(), "running");
    }
    auto second = dir.create(state("web", "bbbb2222"));
    EXPECT_TRUE(second.held());
    EXPECT_EQ(dir.get("web").id, "bbbb2222");
    auto e = conflict(dir, state("web", "cccc3333")); // and now the new owner has it
    EXPECT_NE(e.message().find("by container \"bbbb2222\""), std::string::npos) << e.message();
}

TEST(Claim, ExitedContainerKeepsItsNameUntilRemoved) {
    TempDir t("gantry-claim");
    StateDir dir(t.path);
    {
        auto owner = dir.create(state("job", "aaaa1111"));
        record(dir, "job", dead_pid(), "exited");
    }
    auto e = conflict(dir, state("job", "bbbb2222"));
    EXPECT_EQ(e.code(), Errc::conflict);
    EXPECT_NE(e.message().find("\"/job\" is already in use by container \"aaaa1111\""),
              std::string::npos)
        << e.message();
    EXPECT_EQ(e.hint(), "remove it with `gantry rm job`");
    dir.remove("job");
    EXPECT_TRUE(dir.create(state("job", "bbbb2222")).held());
}

TEST(Claim, DirectoryWithoutOwnerLockFallsBackToTheRecordedProcesses) {
    // a directory from a gantry before the owner lock (or a crash between mkdir and the lock):
    // a recorded live monitor keeps the name, a dead one is debris
    TempDir t("gantry-claim");
    StateDir dir(t.path);
    { auto owner = dir.create(state("old", "aaaa1111")); }
    stdfs::remove(t.path / "old" / "owner.lock");
    auto e = conflict(dir, state("old", "bbbb2222")); // monitor: this process, alive
    EXPECT_NE(e.message().find("by container \"aaaa1111\""), std::string::npos) << e.message();
    record(dir, "old", dead_pid(), "created");
    EXPECT_TRUE(dir.create(state("old", "bbbb2222")).held());
    EXPECT_EQ(dir.get("old").id, "bbbb2222");
}

TEST(Claim, NameIsNotMatchedAgainstAnotherContainersId) {
    // near miss for the lookup: a container whose id begins with the new name is another one
    TempDir t("gantry-claim");
    StateDir dir(t.path);
    auto a = dir.create(state("web", "abcd1234ffff"));
    auto b = dir.create(state("abcd", "eeee5555"));
    EXPECT_TRUE(b.held());
}

} // namespace records_state_claim_test
