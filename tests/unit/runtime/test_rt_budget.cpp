// The realtime CPU budget of cgroup v1's cpu hierarchy (runtime/rt_budget.hpp) on fake trees:
// directories whose cpu.rt_period_us and cpu.rt_runtime_us files are what the kernel shows.
#include "cgroup_fixture.hpp"
#include "runtime/rt_budget.hpp"

#include <gtest/gtest.h>

namespace runtime_rt_budget_test {

using namespace cgroup_fixture;
using gantry::runtime::make_realtime_room;
using gantry::runtime::realtime_hierarchy;
using gantry::runtime::realtime_share;

namespace {

void rt_cgroup(const std::string& dir, std::int64_t runtime, std::int64_t period = 1000000) {
    stdfs::create_directories(dir);
    put(dir + "/cpu.rt_period_us", std::to_string(period) + "\n");
    put(dir + "/cpu.rt_runtime_us", std::to_string(runtime) + "\n");
}

// the number a cgroup's file holds (a fake tree's file is written over, not truncated, as the
// kernel's is written)
std::string runtime_of(const std::string& dir) {
    std::string v = slurp(dir + "/cpu.rt_runtime_us");
    return v.substr(0, v.find('\n'));
}

} // namespace

TEST(RealtimeBudget, ShareIsTheKernelsRatio) {
    EXPECT_EQ(realtime_share(1000000, 950000), (950000ull << 20) / 1000000);
    EXPECT_EQ(realtime_share(1000, 500), 1ull << 19); // a half
    EXPECT_EQ(realtime_share(1000, 0), 0u);
    EXPECT_GT(realtime_share(1000, -1), realtime_share(1000, 1000)); // unlimited
}

TEST(RealtimeBudget, RoomUnderTheRootTakesNothingFromAnyone) {
    CgTempDir t;
    const std::string top = t.path() + "/cpu";
    rt_cgroup(top, 950000);
    rt_cgroup(top + "/other", 400000);
    make_realtime_room(top, top, "c1", 0, 500000, "--cpu-rt-runtime");
    EXPECT_EQ(runtime_of(top), "950000"); // the host's budget is never changed
    EXPECT_EQ(runtime_of(top + "/other"), "400000");
}

TEST(RealtimeBudget, TheCgroupsBetweenGetWhatTheContainerNeeds) {
    CgTempDir t;
    const std::string top = t.path() + "/cpu", mid = top + "/user.slice",
                      own = mid + "/session.scope";
    rt_cgroup(top, 950000);
    rt_cgroup(mid, 0);
    rt_cgroup(mid + "/holder", 0);
    rt_cgroup(own, 0);
    rt_cgroup(own + "/sibling", 100000); // a share of own the kernel keeps
    put(own + "/cpu.rt_runtime_us", "100000\n");
    put(mid + "/cpu.rt_runtime_us", "100000\n");
    // 20000 of every 100000 is a fifth: own needs the sibling's tenth and the fifth
    make_realtime_room(top, own, "c1", 100000, 20000, "--cpu-rt-runtime");
    EXPECT_EQ(runtime_of(own), "300000");
    EXPECT_EQ(runtime_of(mid), "300000");
    EXPECT_EQ(runtime_of(top), "950000");
    // the first one now holds its fifth: a second one's hundredth raises both again, to what
    // the kernel's rounded shares add up to
    rt_cgroup(own + "/c1", 20000, 100000);
    make_realtime_room(top, own, "c2", 0, 10000, "--cpu-rt-runtime");
    EXPECT_EQ(runtime_of(own), "309999");
    EXPECT_EQ(runtime_of(mid), "309999");
}

TEST(RealtimeBudget, NoRoomAtTheRootIsRefusedNamingItAndChangesNothing) {
    CgTempDir t;
    const std::string top = t.path() + "/cpu", own = top + "/scope";
    rt_cgroup(top, 950000);
    rt_cgroup(top + "/rt-app", 900000);
    rt_cgroup(own, 0);
    try {
        make_realtime_room(top, own, "c1", 0, 100000, "--cpu-rt-runtime");
        ADD_FAILURE() << "no room, and no refusal";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::run_failed);
        EXPECT_NE(e.message().find("cannot apply --cpu-rt-runtime: the realtime CPU budget of " +
                                   top + " (950000 us of every 1000000"),
                  std::string::npos)
            << e.message();
        EXPECT_NE(e.message().find("has 50000 us left"), std::string::npos) << e.message();
        EXPECT_NE(e.hint().find("kernel.sched_rt_runtime_us"), std::string::npos);
    }
    EXPECT_EQ(runtime_of(own), "0");
    // a runtime above the period is the user's error
    EXPECT_THROW(make_realtime_room(top, top, "c1", 1000, 2000, "--cpu-rt-runtime"), Error);
}

TEST(RealtimeBudget, TheHostMustHaveAV1CpuHierarchyWithRealtimeGroups) {
    CgTempDir t;
    CgroupProbe hybrid;
    hybrid.mountinfo = hybrid_mountinfo(t.path());
    stdfs::create_directories(t.path() + "/cpu");
    try {
        realtime_hierarchy("--cpu-rt-runtime", hybrid);
        ADD_FAILURE() << "a kernel without cpu.rt_runtime_us accepted";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("CONFIG_RT_GROUP_SCHED"), std::string::npos) << e.message();
    }
    rt_cgroup(t.path() + "/cpu", 950000);
    EXPECT_EQ(realtime_hierarchy("--cpu-rt-runtime", hybrid), t.path() + "/cpu");
    CgroupProbe v2;
    v2.mountinfo = mountinfo_line(40, t.path() + "/v2", "cgroup2", "rw");
    try {
        realtime_hierarchy("--cpu-rt-period", v2);
        ADD_FAILURE() << "cgroup v2 accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage);
        EXPECT_TRUE(e.message().starts_with("--cpu-rt-period cannot be applied: the cpu controller "
                                            "is on cgroup v2"))
            << e.message();
        EXPECT_NE(e.hint().find("run without --cpu-rt-period"), std::string::npos);
    }
}

} // namespace runtime_rt_budget_test
