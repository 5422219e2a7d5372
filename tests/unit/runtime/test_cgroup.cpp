// gantry run's cgroup v2 setup (ContainerCgroup::for_run, runtime/cgroup_of_run.cpp) against fake
// cgroup2 trees (GANTRY_CGROUP_ROOT): the controllers enabled, the limits written, processes
// moved, stale cgroups replaced.
#include "cgroup_fixture.hpp"
#include "runtime/container_cgroup.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace runtime_cgroup_test {

using namespace cgroup_fixture;

// --- a fake cgroup2 directory (GANTRY_CGROUP_ROOT) -----------------------------------------

TEST(CgroupFake, WritesLimitsAndEnablesControllers) {
    CgTempDir t;
    fake_cgroup(t.path(), "cpuset cpu io memory hugetlb pids", "", "1\n");
    CgroupProbe probe{.root = t.path()};
    {
        OwnedCgroup cg = run_cgroup("ctr1", all_limits(), probe);
        const std::string dir = t.path() + "/ctr1";
        EXPECT_EQ(path_of(cg), dir);
        EXPECT_EQ(slurp(t.path() + "/cgroup.subtree_control"), "memory cpu pids\n");
        EXPECT_EQ(slurp(dir + "/memory.max"), "536870912\n");
        EXPECT_EQ(slurp(dir + "/memory.swap.max"), "536870912\n"); // docker: swap = memory
        EXPECT_EQ(slurp(dir + "/cpu.max"), "150000 100000\n");
        EXPECT_EQ(slurp(dir + "/pids.max"), "100\n");
        // A root cgroup is exempt from "no internal processes": nothing moved.
        EXPECT_FALSE(exists(t.path() + "/init"));
        EXPECT_EQ(slurp(t.path() + "/cgroup.procs"), "1\n");
        cg->add(4242);
        cg->add(4343);
        EXPECT_EQ(slurp(dir + "/cgroup.procs"), "\n4242\n4343\n");
    }
    EXPECT_FALSE(exists(t.path() + "/ctr1")); // removed by the destructor
}

TEST(CgroupFake, OnlyTheNeededControllersAndUnlimitedValues) {
    CgTempDir t;
    fake_cgroup(t.path(), "cpu memory pids", "pids");
    Resources r;
    r.memory = 0;
    r.cpus = 0.0;
    r.pids = -1;
    OwnedCgroup cg = run_cgroup("c", r, CgroupProbe{.root = t.path()});
    EXPECT_EQ(slurp(t.path() + "/cgroup.subtree_control"), "pids memory cpu\n");
    EXPECT_EQ(slurp(path_of(cg) + "/memory.max"), "max\n");
    EXPECT_EQ(slurp(path_of(cg) + "/memory.swap.max"), "max\n");
    EXPECT_EQ(slurp(path_of(cg) + "/cpu.max"), "max 100000\n");
    EXPECT_EQ(slurp(path_of(cg) + "/pids.max"), "max\n");

    CgTempDir t2;
    fake_cgroup(t2.path(), "cpu memory pids");
    Resources only_pids;
    only_pids.pids = 7;
    OwnedCgroup cg2 = run_cgroup("c", only_pids, CgroupProbe{.root = t2.path()});
    EXPECT_EQ(slurp(t2.path() + "/cgroup.subtree_control"), "pids\n");
    EXPECT_EQ(slurp(path_of(cg2) + "/pids.max"), "7\n");
    EXPECT_FALSE(exists(path_of(cg2) + "/memory.max"));
    EXPECT_FALSE(exists(path_of(cg2) + "/cpu.max"));
}

TEST(CgroupFake, CpuQuotaFollowsDockersNanoCpus) {
    CgTempDir t;
    fake_cgroup(t.path(), "cpu");
    for (auto [cpus, want] :
         std::vector<std::pair<double, std::string>>{{0.01, "1000 100000\n"},
                                                     {0.5, "50000 100000\n"},
                                                     {1.0, "100000 100000\n"},
                                                     {2.25, "225000 100000\n"},
                                                     {0.333333333, "33333 100000\n"}}) {
        Resources r;
        r.cpus = cpus;
        OwnedCgroup cg = run_cgroup("c", r, CgroupProbe{.root = t.path()});
        EXPECT_EQ(slurp(path_of(cg) + "/cpu.max"), want) << cpus;
    }
}

TEST(CgroupFake, MovesProcessesIntoALeafFirst) {
    // "No internal processes": a non-root cgroup holding processes (as a delegated systemd scope
    // holding gantry itself does) cannot enable controllers for children until they move.
    CgTempDir t;
    fake_cgroup(t.path(), "cpu memory pids", "", "4242\n4343\n", /*root=*/false);
    Resources r;
    r.memory = 64ll << 20;
    OwnedCgroup cg = run_cgroup("ctr", r, CgroupProbe{.root = t.path()});
    EXPECT_EQ(slurp(t.path() + "/init/cgroup.procs"), "4242\n4343\n");
    EXPECT_EQ(slurp(t.path() + "/cgroup.procs"), "\n");
    EXPECT_EQ(slurp(t.path() + "/cgroup.subtree_control"), "memory\n");
    EXPECT_EQ(slurp(path_of(cg) + "/memory.max"), "67108864\n");
}

TEST(CgroupFake, NoMoveWhenTheControllersAreAlreadyEnabled) {
    CgTempDir t;
    fake_cgroup(t.path(), "cpu memory pids", "memory pids", "4242\n", /*root=*/false);
    Resources r;
    r.memory = 64ll << 20;
    r.pids = 10;
    OwnedCgroup cg = run_cgroup("ctr", r, CgroupProbe{.root = t.path()});
    EXPECT_FALSE(exists(t.path() + "/init"));
    EXPECT_EQ(slurp(t.path() + "/cgroup.procs"), "4242\n");
    EXPECT_EQ(slurp(t.path() + "/cgroup.subtree_control"), "memory pids\n");
}

TEST(CgroupFake, NoLimitsStillMakesACgroup) {
    CgTempDir t;
    fake_cgroup(t.path(), "", "", "99\n", /*root=*/false);
    OwnedCgroup cg = run_cgroup("ctr", Resources{}, CgroupProbe{.root = t.path()});
    EXPECT_TRUE(exists(path_of(cg) + "/cgroup.procs"));
    EXPECT_FALSE(exists(t.path() + "/init"));
    EXPECT_EQ(slurp(t.path() + "/cgroup.subtree_control"), "");
}

TEST(CgroupFake, ReplacesAStaleEmptyCgroupAndRefusesABusyOne) {
    CgTempDir t;
    fake_cgroup(t.path(), "pids");
    fake_cgroup(t.path() + "/ctr", "pids");
    put(t.path() + "/ctr/pids.max", "3\n");
    Resources r;
    r.pids = 50;
    {
        OwnedCgroup cg = run_cgroup("ctr", r, CgroupProbe{.root = t.path()});
        EXPECT_EQ(slurp(path_of(cg) + "/pids.max"), "50\n");
    }
    fake_cgroup(t.path() + "/ctr", "pids", "", "77\n");
    Error e = create_error("ctr", r, CgroupProbe{.root = t.path()});
    EXPECT_EQ(e.code(), Errc::run_failed);
    EXPECT_EQ(e.message(), "cannot apply --pids-limit: cgroup " + t.path() +
                               "/ctr already exists and holds processes (77)");
    EXPECT_EQ(slurp(t.path() + "/ctr/cgroup.procs"), "77\n"); // left alone
}

TEST(CgroupFake, RejectsBadNames) {
    CgTempDir t;
    fake_cgroup(t.path(), "pids");
    for (const char* name : {"", ".", "..", "a/b", "init", "x\ny"}) {
        Error e = create_error(name, Resources{}, CgroupProbe{.root = t.path()});
        EXPECT_EQ(e.code(), Errc::invalid) << name;
    }
}

TEST(CgroupFake, OverrideMustBeACgroupDirectory) {
    CgTempDir t;
    Error e = create_error("c", all_limits(), CgroupProbe{.root = t.path()});
    EXPECT_EQ(e.code(), Errc::run_failed);
    EXPECT_EQ(e.message(),
              "cannot apply --memory, --cpus and --pids-limit: GANTRY_CGROUP_ROOT=" + t.path() +
                  " is not a cgroup v2 directory (it has no "
                  "cgroup.controllers)");
}

TEST(CgroupFake, OverrideMissingControllerNamesTheFile) {
    CgTempDir t;
    fake_cgroup(t.path(), "cpu pids");
    Error e = create_error("c", all_limits(), CgroupProbe{.root = t.path()});
    EXPECT_EQ(e.code(), Errc::run_failed);
    EXPECT_EQ(e.message(), "cannot apply --memory: the memory controller is not available in " +
                               t.path() + ": " + t.path() +
                               "/cgroup.controllers lists only cpu pids");
    EXPECT_FALSE(exists(t.path() + "/c"));
}

TEST(CgroupFake, EnvironmentOverrideIsHonoured) {
    CgTempDir t;
    fake_cgroup(t.path(), "pids");
    EnvRestore env("GANTRY_CGROUP_ROOT");
    ::setenv("GANTRY_CGROUP_ROOT", t.path().c_str(), 1);
    EXPECT_EQ(CgroupProbe::system().root, t.path());
    Resources r;
    r.pids = 3;
    OwnedCgroup cg = run_cgroup("envctr", r);
    EXPECT_EQ(path_of(cg), t.path() + "/envctr");
    EXPECT_EQ(slurp(path_of(cg) + "/pids.max"), "3\n");
}

TEST(CgroupFake, ReadOnlyMountIsNamed) {
    // As in a container that mounts cgroup2 read-only: root may not write either.
    if (::geteuid() != 0) GTEST_SKIP() << "needs root for a private read-only bind mount";
    CgTempDir t;
    fake_cgroup(t.path(), "pids");
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(p[0]);
        std::string out = "setup failed";
        if (::unshare(CLONE_NEWNS) == 0 &&
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
            ::mount(t.path().c_str(), t.path().c_str(), nullptr, MS_BIND, nullptr) == 0 &&
            ::mount(nullptr, t.path().c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY,
                    nullptr) == 0) {
            Resources r;
            r.pids = 1;
            out = create_error("c", r, CgroupProbe{.root = t.path()}).message();
        }
        (void)!::write(p[1], out.data(), out.size());
        ::_exit(0);
    }
    ::close(p[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    ::waitpid(pid, nullptr, 0);
    EXPECT_EQ(out, "cannot apply --pids-limit: the cgroup2 filesystem at " + t.path() +
                       " is mounted read-only");
}

} // namespace runtime_cgroup_test
