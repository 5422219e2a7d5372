// Where a cgroup can be made (runtime/cgroup_layout.hpp), detected from fake
// /proc/self/mountinfo and /proc/self/cgroup texts; a v1 or hybrid layout's hierarchies
// (container_cgroup.hpp, for gantry run too); and this machine's real layout.
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

namespace runtime_cgroup_layout_test {

using namespace cgroup_fixture;

using gantry::runtime::parse_memory;

// --- detection from /proc/self/mountinfo and /proc/self/cgroup, on fake layouts ---------------

TEST(CgroupV1, HybridLayoutPutsTheContainerInEveryHierarchy) {
    // gantry run on a v1 "hybrid" host (this VM's layout): a directory per hierarchy below this
    // process's own cgroup there, as gantry oci makes one (container_cgroup.hpp), the limits in
    // the v1 files. The fake tree holds the files the kernel would make in the new directories.
    CgTempDir t;
    const std::string T = t.path();
    fake_cgroup(T + "/unified", "hugetlb");
    const std::string mem = T + "/memory/user.slice/c";
    for (const char* c :
         {"cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "pids", "systemd", "unified"})
        stdfs::create_directories(T + "/" + c + "/c");
    stdfs::create_directories(mem);
    auto touch = [](const std::string& f, const std::string& content = "") {
        std::ofstream(f) << content;
    };
    for (const char* f : {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "cgroup.procs"})
        touch(mem + "/" + f);
    for (const char* f : {"cpu.cfs_period_us", "cpu.cfs_quota_us", "cgroup.procs"})
        touch(T + "/cpu/c/" + f);
    touch(T + "/pids/c/pids.max");
    for (const char* c :
         {"cpuacct", "cpuset", "devices", "freezer", "blkio", "pids", "systemd", "unified"})
        touch(T + "/" + c + "/c/cgroup.procs");
    touch(T + "/cpuset/cpuset.cpus", "0-1");
    touch(T + "/cpuset/cpuset.mems", "0");
    touch(T + "/cpuset/c/cpuset.cpus");
    touch(T + "/cpuset/c/cpuset.mems");
    CgroupProbe probe{.mountinfo = hybrid_mountinfo(T),
                      .proc_cgroup = "4:memory:/user.slice\n0::/\n"};
    OwnedCgroup cg = run_cgroup("c", all_limits(), probe);
    EXPECT_EQ(path_of(cg), mem); // below its own memory cgroup, as runc places a relative path
    EXPECT_EQ(slurp(mem + "/memory.limit_in_bytes"), "536870912");
    EXPECT_EQ(slurp(mem + "/memory.memsw.limit_in_bytes"), "1073741824"); // docker: swap = memory
    EXPECT_EQ(slurp(T + "/cpu/c/cpu.cfs_period_us"), "100000");
    EXPECT_EQ(slurp(T + "/cpu/c/cpu.cfs_quota_us"), "150000");
    EXPECT_EQ(slurp(T + "/pids/c/pids.max"), "100");
    EXPECT_EQ(slurp(T + "/cpuset/c/cpuset.cpus"), "0-1"); // a new cpuset gets its parent's
    cg->add(4242);
    EXPECT_EQ(slurp(mem + "/cgroup.procs"), "4242");
    EXPECT_EQ(slurp(T + "/cpu/c/cgroup.procs"), "4242");

    // a hierarchy without the file a limit needs names it
    std::filesystem::remove(T + "/pids/c/pids.max");
    Resources r;
    r.pids = 10;
    Error e = create_error("c", r, probe);
    EXPECT_EQ(e.message(),
              "cannot apply --pids-limit: the kernel has no pids.max in " + T + "/pids/c");
}

TEST(CgroupDetect, NoCgroup2Mounted) {
    // (a v1-only host is CgroupV1's: its hierarchies are used)
    Resources r;
    r.pids = 10;
    Error e = create_error("c", r, CgroupProbe{.mountinfo = "", .proc_cgroup = ""});
    EXPECT_EQ(e.message(), "cannot apply --pids-limit: no cgroup2 filesystem is mounted");
}

TEST(CgroupDetect, KernelWithoutTheController) {
    CgTempDir t;
    fake_cgroup(t.path(), "cpu io pids");
    CgroupProbe probe{.mountinfo = mountinfo_line(30, t.path(), "cgroup2", "rw"),
                      .proc_cgroup = "0::/\n"};
    Error e = create_error("c", all_limits(), probe);
    EXPECT_EQ(e.message(), "cannot apply --memory: the kernel offers no cgroup v2 memory "
                           "controller: " +
                               t.path() + "/cgroup.controllers lists only cpu io pids");
}

TEST(CgroupDetect, ControllerNotDelegatedToOwnCgroup) {
    CgTempDir t;
    fake_cgroup(t.path(), "cpu memory pids", "cpu pids");
    const std::string own = t.path() + "/user.slice/session-3.scope";
    fake_cgroup(t.path() + "/user.slice", "cpu pids", "cpu pids", "", false);
    fake_cgroup(own, "cpu pids", "", "1234\n", false);
    CgroupProbe probe{.mountinfo = mountinfo_line(30, t.path(), "cgroup2", "rw"),
                      .proc_cgroup = "0::/user.slice/session-3.scope\n"};
    Error e = create_error("c", all_limits(), probe);
    EXPECT_EQ(e.message(), "cannot apply --memory: the memory controller is not delegated to " +
                               own + ": " + own + "/cgroup.controllers lists only cpu pids");
    EXPECT_EQ(e.hint(), "enable them in " + t.path() +
                            "/user.slice/cgroup.subtree_control, or run under a delegated cgroup, "
                            "e.g. systemd-run --user --scope -p Delegate=yes, or as root");
}

TEST(CgroupDetect, UsesTheOwnCgroupThroughAMountWithARootAndEscapes) {
    // cgroup2 mounted at a path with a space, showing the hierarchy from /ns (as in a cgroup
    // namespace or a bind mount of a subtree).
    CgTempDir t;
    const std::string mp = t.path() + "/cg two";
    fake_cgroup(mp, "cpu memory pids", "", "", false);
    fake_cgroup(mp + "/job", "cpu memory pids", "", "555\n", false);
    std::string mi = mountinfo_line(30, "/elsewhere", "cgroup2", "rw", "/other") +
                     mountinfo_line(31, mp, "cgroup2", "rw", "/ns");
    CgroupProbe probe{.mountinfo = mi, .proc_cgroup = "0::/ns/job\n"};
    Resources r;
    r.memory = 8ll << 20;
    OwnedCgroup cg = run_cgroup("ctr", r, probe);
    EXPECT_EQ(path_of(cg), mp + "/job/ctr");
    EXPECT_EQ(slurp(mp + "/job/init/cgroup.procs"), "555\n");
    EXPECT_EQ(slurp(path_of(cg) + "/memory.max"), "8388608\n");
}

TEST(CgroupDetect, CgroupNotVisibleOrNoV2Entry) {
    CgTempDir t;
    fake_cgroup(t.path(), "pids");
    std::string mi = mountinfo_line(31, t.path(), "cgroup2", "rw", "/ns");
    Resources r;
    r.pids = 1;
    Error e = create_error("c", r, CgroupProbe{.mountinfo = mi, .proc_cgroup = "0::/other\n"});
    EXPECT_EQ(e.message(), "cannot apply --pids-limit: this process's cgroup v2 path /other (from "
                           "/proc/self/cgroup) is not visible under any cgroup2 mount: " +
                               t.path() + " (root /ns)");
    e = create_error("c", r, CgroupProbe{.mountinfo = mi, .proc_cgroup = "4:pids:/\n"});
    EXPECT_EQ(e.message(), "cannot apply --pids-limit: /proc/self/cgroup has no cgroup v2 "
                           "(\"0::\") entry although cgroup2 is mounted at " +
                               t.path());
}

TEST(CgroupDetect, RootlessUsesTheNearestDelegatedAncestor) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to build a tree owned by another user";
    CgTempDir t;
    const std::string top = t.path() + "/cg";
    const std::string deleg = top + "/user.slice/user@65534.service";
    const std::string own = deleg + "/app.slice/term.scope";
    fake_cgroup(top, "cpu memory pids", "cpu memory pids");
    fake_cgroup(top + "/user.slice", "cpu memory pids", "cpu memory pids", "", false);
    fake_cgroup(deleg, "cpu memory pids", "", "", false);
    fake_cgroup(deleg + "/app.slice", "", "", "", false);
    fake_cgroup(own, "", "", "4321\n", false);
    CgroupProbe probe{.mountinfo = mountinfo_line(30, top, "cgroup2", "rw"),
                      .proc_cgroup = "0::/user.slice/user@65534.service/app.slice/term.scope\n"};
    Resources r;
    r.pids = 20;
    r.memory = 32ll << 20;

    // Nothing is delegated yet: the error says so and how to get a delegated cgroup.
    EXPECT_EQ(as_nobody([&] { return path_of(run_cgroup("ctr", r, probe)); }),
              "ERROR: cannot apply --memory and --pids-limit: no cgroup v2 directory is writable "
              "by uid 65534: not this process's cgroup " +
                  own + " nor any parent up to " + top +
                  " | run under a delegated cgroup, e.g. systemd-run --user --scope -p "
                  "Delegate=yes, or as root");

    // Delegate user@65534.service as systemd does: the directory and its control files.
    for (const char* f : {"", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"}) {
        if (std::string(f) == "/cgroup.threads") put(deleg + f, "");
        chown_nobody(deleg + f);
    }
    EXPECT_EQ(as_nobody([&] {
                  OwnedCgroup cg = run_cgroup("ctr", r, probe);
                  return path_of(cg) + " " + slurp(path_of(cg) + "/pids.max") +
                         slurp(deleg + "/cgroup.subtree_control");
              }),
              deleg + "/ctr 20\nmemory pids\n");
    EXPECT_FALSE(exists(deleg + "/ctr")); // removed by the child's destructor
}

TEST(CgroupV1, PermissionIsNamed) {
    // Rootless on a v1 host: the directory it may not make, and the fix.
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
    CgTempDir t;
    fake_cgroup(t.path() + "/unified", "hugetlb");
    for (const char* c :
         {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd"})
        stdfs::create_directories(t.path() + "/" + c); // the mount points, root's
    CgroupProbe probe{.mountinfo = hybrid_mountinfo(t.path()), .proc_cgroup = "0::/\n"};
    Resources r;
    r.memory = 100ll << 20;
    std::string out = as_nobody([&] { return path_of(run_cgroup("c", r, probe)); });
    EXPECT_EQ(out, "ERROR: cannot apply --memory: cannot create the container's cgroup " +
                       t.path() + "/blkio/c: Permission denied | " +
                       gantry::runtime::detail::kDelegateHint);
}

// --- this machine ----------------------------------------------------------------------------

namespace {

// A cgroup v1 memory hierarchy at /sys/fs/cgroup/memory (this VM, a v1 or hybrid host).
bool v1_host() {
    std::string mi = slurp("/proc/self/mountinfo");
    return mi.find(" /sys/fs/cgroup/memory ") != std::string::npos &&
           mi.find(" /sys/fs/cgroup/pids ") != std::string::npos;
}

} // namespace

TEST(CgroupHost, ThisV1HostAsRootGetsTheLimits) {
    if (!v1_host()) GTEST_SKIP() << "not a cgroup v1 host";
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to write to this host's cgroup v1";
    EnvRestore env("GANTRY_CGROUP_ROOT");
    ::unsetenv("GANTRY_CGROUP_ROOT");
    const std::string name = "gantry-unit-" + std::to_string(::getpid());
    Resources r;
    r.memory = parse_memory("512m");
    r.pids = 100;
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    std::string path;
    {
        OwnedCgroup cg = run_cgroup(name, r); // the entry point gantry run uses
        path = path_of(cg);
        EXPECT_TRUE(path.starts_with("/sys/fs/cgroup/memory/") && path.ends_with("/" + name))
            << path;
        EXPECT_EQ(slurp(path + "/memory.limit_in_bytes"), "536870912\n");
        cg->add(child);
        EXPECT_NE(slurp("/proc/" + std::to_string(child) + "/cgroup").find(":pids:/" + name),
                  std::string::npos);
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
    }
    EXPECT_FALSE(exists(path)); // removed once its process is gone
}

TEST(CgroupHost, ThisV1HostRootlessNamesThePermission) {
    if (!v1_host()) GTEST_SKIP() << "not a cgroup v1 host";
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
    std::string out = as_nobody([] {
        ::unsetenv("GANTRY_CGROUP_ROOT");
        Resources r;
        r.cpus = 1;
        return path_of(run_cgroup("gantry-unit-rootless", r));
    });
    EXPECT_EQ(out.rfind("ERROR: cannot apply --cpus: cannot create the container's cgroup "
                        "/sys/fs/cgroup/",
                        0),
              0u)
        << out;
    EXPECT_NE(
        out.find("Permission denied | " + std::string(gantry::runtime::detail::kDelegateHint)),
        std::string::npos)
        << out;
}

TEST(CgroupHost, RealCgroup2WithoutControllers) {
    // What the real kernel can check here: mkdir, cgroup.procs and rmdir on cgroup2 (limits
    // need controllers this host's cgroup2 lacks). Root only: nothing else may write there.
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to write to this host's cgroup2";
    EnvRestore env("GANTRY_CGROUP_ROOT");
    ::unsetenv("GANTRY_CGROUP_ROOT");
    const CgroupProbe probe = CgroupProbe::system();
    std::string own;
    {
        std::istringstream in(probe.proc_cgroup);
        for (std::string line; std::getline(in, line);)
            if (line.starts_with("0::")) own = line.substr(3);
    }
    if (own.empty() || probe.mountinfo.find(" - cgroup2 ") == std::string::npos)
        GTEST_SKIP() << "no cgroup2 here";
    const std::string name = "gantry-unit-" + std::to_string(::getpid());

    int go[2];
    ASSERT_EQ(::pipe(go), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(go[1]);
        char c;
        (void)!::read(go[0], &c, 1);
        ::_exit(0);
    }
    ::close(go[0]);
    std::string path, seen;
    {
        OwnedCgroup cg = [&] {
            try {
                return run_cgroup(name, Resources{}, probe);
            } catch (...) {
                ::kill(child, SIGKILL);
                ::waitpid(child, nullptr, 0);
                throw;
            }
        }();
        path = path_of(cg);
        cg->add(child);
        seen = slurp("/proc/" + std::to_string(child) + "/cgroup");
        EXPECT_EQ(slurp(path + "/cgroup.procs"), std::to_string(child) + "\n");
        ::close(go[1]); // the child exits ...
        ::waitpid(child, nullptr, 0);
    } // ... and the cgroup goes
    EXPECT_NE(seen.find("0::" + (own == "/" ? "" : own) + "/" + name + "\n"), std::string::npos)
        << seen;
    EXPECT_FALSE(exists(path)) << path;
}

} // namespace runtime_cgroup_layout_test
