// records::StateDir::find_started: a container whose monitor is still starting it (created, the
// monitor alive) is waited for until the monitor records it running; one whose monitor is gone
// (gantry create's record, a crashed run's) is answered at once, as it is.
#include "../support/temp_dir.hpp"
#include "records/state.hpp"

#include <chrono>
#include <gtest/gtest.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace records_state_starting_test {

using gantry::records::ContainerState;
using gantry::records::process_start_time;
using gantry::records::StateDir;
using unit_support::TempDir;

namespace {

ContainerState created(pid_t monitor) {
    ContainerState s;
    s.name = "starting";
    s.id = "5a5a5a5a5a5a";
    s.monitor = monitor;
    return s;
}

} // namespace

TEST(StateStarting, AContainerBeingStartedIsWaitedForUntilItRuns) {
    TempDir t("gantry-state-starting");
    int go[2];
    ASSERT_EQ(::pipe(go), 0);
    pid_t monitor = ::fork();
    ASSERT_GE(monitor, 0);
    if (monitor == 0) { // the monitor: records its workload (itself here) once told to
        char c;
        if (::read(go[0], &c, 1) != 1) ::_exit(1);
        ::usleep(100 * 1000);
        auto s = created(::getpid());
        s.status = "running";
        s.pid = ::getpid();
        s.pid_start = process_start_time(s.pid);
        StateDir(t.path).save(s);
        ::pause();
        ::_exit(0);
    }
    StateDir dir(t.path);
    (void)dir.create(created(monitor));
    auto at_once = dir.find("starting");
    ASSERT_TRUE(at_once);
    EXPECT_EQ(at_once->status, "created");
    ASSERT_EQ(::write(go[1], "g", 1), 1);
    const auto t0 = std::chrono::steady_clock::now();
    auto s = dir.find_started("starting");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->status, "running");
    EXPECT_TRUE(s->running());
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));
    ::kill(monitor, SIGKILL);
    ::waitpid(monitor, nullptr, 0);
    ::close(go[0]);
    ::close(go[1]);
}

TEST(StateStarting, ARecordWhoseMonitorIsGoneIsAnsweredAtOnce) {
    TempDir t("gantry-state-created");
    pid_t gone = ::fork();
    ASSERT_GE(gone, 0);
    if (gone == 0) ::_exit(0);
    ::waitpid(gone, nullptr, 0);
    StateDir dir(t.path);
    (void)dir.create(created(gone)); // gantry create's record: its process ended
    const auto t0 = std::chrono::steady_clock::now();
    auto s = dir.find_started("starting", 5);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->status, "created");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
    EXPECT_FALSE(dir.find_started("no-such-container"));
}

} // namespace records_state_starting_test
