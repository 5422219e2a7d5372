// Where a cgroup can be made (runtime/cgroup_layout.hpp), detected from fake
// /proc/self/mountinfo and /proc/self/cgroup texts, and this machine's real layout (a cgroup v1
// "hybrid" host: the exact error it gets).
#include "cgroup_fixture.hpp"
#include "runtime/cgroup.hpp"
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

TEST(CgroupDetect, HybridLayoutNamesTheV1ControllersAndTheUnifiedMount) {
    CgTempDir t;
    const std::string u = t.path() + "/unified";
    fake_cgroup(u, "hugetlb");
    CgroupProbe probe{.mountinfo = hybrid_mountinfo(t.path()), .proc_cgroup = "0::/\n"};
    Error e = create_error("c", all_limits(), probe);
    EXPECT_EQ(e.code(), Errc::run_failed);
    EXPECT_EQ(e.message(),
              "cannot apply --memory, --cpus and --pids-limit: this host has a cgroup v1 "
              "\"hybrid\" layout: the memory, cpu and pids controllers are bound to cgroup v1 (" +
                  t.path() + "/memory, " + t.path() + "/cpu and " + t.path() +
                  "/pids) and the cgroup2 mount at " + u + " offers only hugetlb");
    EXPECT_EQ(e.hint(), "gantry sets limits through cgroup v2 only: boot with "
                        "systemd.unified_cgroup_hierarchy=1 (or cgroup_no_v1=all) for a cgroup v2 "
                        "host, or run without --memory, --cpus and --pids-limit");
    EXPECT_FALSE(exists(u + "/c"));

    // An empty unified hierarchy (crun's workaround moves hugetlb to v1 too).
    fake_cgroup(u, "");
    Resources r;
    r.pids = 10;
    e = create_error("c", r, probe);
    EXPECT_EQ(e.message(), "cannot apply --pids-limit: this host has a cgroup v1 \"hybrid\" "
                           "layout: the pids controller is bound to cgroup v1 (" +
                               t.path() + "/pids) and the cgroup2 mount at " + u +
                               " offers no controllers");
}

TEST(CgroupDetect, NoCgroup2Mounted) {
    CgTempDir t;
    std::string mi;
    for (const char* c : {"memory", "pids"})
        mi += mountinfo_line(40, t.path() + "/" + c, "cgroup", std::string("rw,") + c);
    Resources r;
    r.pids = 10;
    Error e = create_error("c", r, CgroupProbe{.mountinfo = mi, .proc_cgroup = "1:pids:/\n"});
    EXPECT_EQ(e.code(), Errc::run_failed);
    EXPECT_EQ(e.message(), "cannot apply --pids-limit: no cgroup2 filesystem is mounted (this "
                           "host has cgroup v1 only: memory at " +
                               t.path() + "/memory and pids at " + t.path() + "/pids)");
    e = create_error("c", r, CgroupProbe{.mountinfo = "", .proc_cgroup = ""});
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
    Cgroup cg = Cgroup::create("ctr", r, probe);
    EXPECT_EQ(cg.path(), mp + "/job/ctr");
    EXPECT_EQ(slurp(mp + "/job/init/cgroup.procs"), "555\n");
    EXPECT_EQ(slurp(cg.path() + "/memory.max"), "8388608\n");
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
    EXPECT_EQ(as_nobody([&] { return Cgroup::create("ctr", r, probe).path(); }),
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
                  Cgroup cg = Cgroup::create("ctr", r, probe);
                  return cg.path() + " " + slurp(cg.path() + "/pids.max") +
                         slurp(deleg + "/cgroup.subtree_control");
              }),
              deleg + "/ctr 20\nmemory pids\n");
    EXPECT_FALSE(exists(deleg + "/ctr")); // removed by the child's destructor
}

TEST(CgroupDetect, HybridIsReportedBeforePermission) {
    // Rootless on a hybrid host: the layout is the real obstacle, not the permission.
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
    CgTempDir t;
    fake_cgroup(t.path() + "/unified", "hugetlb");
    CgroupProbe probe{.mountinfo = hybrid_mountinfo(t.path()), .proc_cgroup = "0::/\n"};
    Resources r;
    r.memory = 100ll << 20;
    std::string out = as_nobody([&] { return Cgroup::create("c", r, probe).path(); });
    EXPECT_EQ(out.rfind("ERROR: cannot apply --memory: this host has a cgroup v1 \"hybrid\" "
                        "layout: the memory controller is bound to cgroup v1 (",
                        0),
              0u)
        << out;
}

// --- this machine ----------------------------------------------------------------------------

namespace {

// True on the development VM's layout (reference/this-machine.md): v1 memory, cpu and pids under
// /sys/fs/cgroup, cgroup2 at /sys/fs/cgroup/unified with only hugetlb.
bool dev_vm_hybrid_layout() {
    std::string mi = slurp("/proc/self/mountinfo");
    for (const char* needle :
         {" /sys/fs/cgroup/unified rw,", " - cgroup2 ", " /sys/fs/cgroup/memory ",
          " /sys/fs/cgroup/cpu ", " /sys/fs/cgroup/pids "})
        if (mi.find(needle) == std::string::npos) return false;
    return slurp("/sys/fs/cgroup/unified/cgroup.controllers") == "hugetlb\n";
}

const char* kThisHostHint =
    "gantry sets limits through cgroup v2 only: boot with systemd.unified_cgroup_hierarchy=1 (or "
    "cgroup_no_v1=all) for a cgroup v2 host, or run without ";

} // namespace

TEST(CgroupHost, ThisHybridHostGetsAnExactError) {
    if (!dev_vm_hybrid_layout()) GTEST_SKIP() << "not the cgroup v1 hybrid layout of the dev VM";
    EnvRestore env("GANTRY_CGROUP_ROOT");
    ::unsetenv("GANTRY_CGROUP_ROOT");
    const std::string name = "gantry-unit-" + std::to_string(::getpid());
    Error e = create_error(name, all_limits(), CgroupProbe::system());
    EXPECT_EQ(e.code(), Errc::run_failed);
    EXPECT_EQ(e.message(),
              "cannot apply --memory, --cpus and --pids-limit: this host has a cgroup v1 "
              "\"hybrid\" layout: the memory, cpu and pids controllers are bound to cgroup v1 "
              "(/sys/fs/cgroup/memory, /sys/fs/cgroup/cpu and /sys/fs/cgroup/pids) and the "
              "cgroup2 mount at /sys/fs/cgroup/unified offers only hugetlb");
    EXPECT_EQ(e.hint(), std::string(kThisHostHint) + "--memory, --cpus and --pids-limit");

    Resources mem;
    mem.memory = parse_memory("512m");
    try {
        Cgroup cg = Cgroup::create(name, mem); // the entry point gantry run uses
        ADD_FAILURE() << "created " << cg.path();
    } catch (const Error& err) {
        EXPECT_EQ(err.message(), "cannot apply --memory: this host has a cgroup v1 \"hybrid\" "
                                 "layout: the memory controller is bound to cgroup v1 "
                                 "(/sys/fs/cgroup/memory) and the cgroup2 mount at "
                                 "/sys/fs/cgroup/unified offers only hugetlb");
        EXPECT_EQ(err.hint(), std::string(kThisHostHint) + "--memory");
    }
    EXPECT_FALSE(exists("/sys/fs/cgroup/unified/" + name)); // nothing left behind

    // The override names the directory instead of the mount.
    ::setenv("GANTRY_CGROUP_ROOT", "/sys/fs/cgroup/unified", 1);
    Resources pids;
    pids.pids = 100;
    e = create_error(name, pids, CgroupProbe::system());
    EXPECT_EQ(e.message(), "cannot apply --pids-limit: this host has a cgroup v1 \"hybrid\" "
                           "layout: the pids controller is bound to cgroup v1 "
                           "(/sys/fs/cgroup/pids) and GANTRY_CGROUP_ROOT=/sys/fs/cgroup/unified "
                           "offers only hugetlb");
}

TEST(CgroupHost, ThisHybridHostRootlessGetsTheSameError) {
    if (!dev_vm_hybrid_layout()) GTEST_SKIP() << "not the cgroup v1 hybrid layout of the dev VM";
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
    EXPECT_EQ(as_nobody([] {
                  ::unsetenv("GANTRY_CGROUP_ROOT");
                  Resources r;
                  r.cpus = 1;
                  return Cgroup::create("gantry-unit-rootless", r).path();
              }),
              "ERROR: cannot apply --cpus: this host has a cgroup v1 \"hybrid\" layout: the cpu "
              "controller is bound to cgroup v1 (/sys/fs/cgroup/cpu) and the cgroup2 mount at "
              "/sys/fs/cgroup/unified offers only hugetlb | " +
                  std::string(kThisHostHint) + "--cpus");
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
        Cgroup cg = [&] {
            try {
                return Cgroup::create(name, Resources{}, probe);
            } catch (...) {
                ::kill(child, SIGKILL);
                ::waitpid(child, nullptr, 0);
                throw;
            }
        }();
        path = cg.path();
        cg.add(child);
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
