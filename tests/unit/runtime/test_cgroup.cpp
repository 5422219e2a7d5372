// Resource limits: docker's --memory/--cpus/--pids-limit values, and cgroup v2 setup, checked
// against fake cgroup2 trees (GANTRY_CGROUP_ROOT or a fake /proc/self/mountinfo) and against
// this machine's real layout (a cgroup v1 "hybrid" host: the exact error it gets).
#include "runtime/cgroup.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <grp.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sstream>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using gantry::Errc;
using gantry::Error;
using gantry::runtime::Cgroup;
using gantry::runtime::CgroupProbe;
using gantry::runtime::parse_cpus;
using gantry::runtime::parse_memory;
using gantry::runtime::parse_pids;
using gantry::runtime::Resources;
namespace stdfs = std::filesystem;

namespace {

class CgTempDir {
  public:
    CgTempDir() {
        std::string tmpl = (stdfs::temp_directory_path() / "gantry-cgroup-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
        ::chmod(tmpl.c_str(), 0755); // the unprivileged cases walk into it
        path_ = tmpl;
    }
    ~CgTempDir() {
        try {
            gantry::fs::remove_tree(path_);
        } catch (...) {
        }
    }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

void put(const std::string& file, const std::string& content) {
    std::ofstream out(file, std::ios::trunc);
    out << content;
}

std::string slurp(const std::string& file) {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool exists(const std::string& p) {
    return ::access(p.c_str(), F_OK) == 0;
}

// A directory that looks like a cgroup v2 directory; `root` ones have no cgroup.type.
void fake_cgroup(const std::string& dir, const std::string& controllers,
                 const std::string& subtree = "", const std::string& procs = "", bool root = true) {
    stdfs::create_directories(dir);
    put(dir + "/cgroup.controllers", controllers.empty() ? "" : controllers + "\n");
    put(dir + "/cgroup.subtree_control", subtree.empty() ? "" : subtree + "\n");
    put(dir + "/cgroup.procs", procs);
    if (!root) put(dir + "/cgroup.type", "domain\n");
}

// A /proc/self/mountinfo line; spaces in the mount point are escaped as the kernel does.
std::string mountinfo_line(int id, const std::string& mountpoint, const std::string& fstype,
                           const std::string& super_options, const std::string& root = "/") {
    std::string mp;
    for (char c : mountpoint) mp += c == ' ' ? std::string("\\040") : std::string(1, c);
    return std::to_string(id) + " 31 0:" + std::to_string(id) + " " + root + " " + mp +
           " rw,nosuid,nodev,noexec,relatime - " + fstype + " " + fstype + " " + super_options +
           "\n";
}

// This machine's layout (reference/this-machine.md), rooted at `t` instead of /sys/fs/cgroup.
std::string hybrid_mountinfo(const std::string& t) {
    std::string mi = "31 23 0:28 / " + t + " rw,relatime - tmpfs tmpfs rw,mode=755\n";
    int id = 32;
    for (const char* c :
         {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"})
        mi += mountinfo_line(id++, t + "/" + c, "cgroup", std::string("rw,") + c);
    mi += mountinfo_line(id++, t + "/systemd", "cgroup", "rw,name=systemd");
    mi += mountinfo_line(id++, t + "/unified", "cgroup2", "rw");
    return mi;
}

Error create_error(const std::string& name, const Resources& r, const CgroupProbe& probe) {
    try {
        Cgroup cg = Cgroup::create(name, r, probe);
    } catch (const Error& e) {
        return e;
    }
    return Error(Errc::internal, "no error");
}

Resources all_limits() {
    Resources r;
    r.memory = 512ll << 20;
    r.cpus = 1.5;
    r.pids = 100;
    return r;
}

// Runs f in a child as uid/gid 65534 and returns what it returned, or "ERROR: message | hint".
std::string as_nobody(const std::function<std::string()>& f) {
    int p[2];
    if (::pipe(p) != 0) return "ERROR: pipe";
    pid_t pid = ::fork();
    if (pid < 0) return "ERROR: fork";
    if (pid == 0) {
        ::close(p[0]);
        std::string out;
        try {
            if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)
                throw std::runtime_error("cannot drop privileges");
            out = f();
        } catch (const Error& e) {
            out = "ERROR: " + e.message() + " | " + e.hint();
        } catch (const std::exception& e) {
            out = std::string("ERROR: ") + e.what();
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
    int status = 0;
    ::waitpid(pid, &status, 0);
    return out;
}

void chown_nobody(const std::string& p) {
    ASSERT_EQ(::chown(p.c_str(), 65534, 65534), 0) << p;
}

class EnvRestore {
  public:
    explicit EnvRestore(const char* name) : name_(name) {
        if (const char* v = std::getenv(name)) old_ = v;
    }
    ~EnvRestore() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }

  private:
    const char* name_;
    std::optional<std::string> old_;
};

int cpus_available() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    return static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
}

template <class F>
void expect_usage(F f, const std::string& value, const std::string& flag) {
    try {
        f(value);
        ADD_FAILURE() << "accepted " << flag << " \"" << value << "\"";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage) << value;
        EXPECT_EQ(e.message().rfind(flag + ": ", 0), 0u) << e.message();
    }
}

} // namespace

// --- flag values -----------------------------------------------------------------------------

TEST(Resources, AnyIsTrueWhenOneLimitIsSet) {
    Resources r;
    EXPECT_FALSE(r.any());
    r.pids = -1;
    EXPECT_TRUE(r.any());
    EXPECT_TRUE(Resources{.memory = 0}.any());
    EXPECT_TRUE(Resources{.cpus = 0.5}.any());
}

TEST(CgroupParse, MemoryUsesDockerBinaryUnits) {
    EXPECT_EQ(parse_memory("512m"), 512ll << 20);
    EXPECT_EQ(parse_memory("512M"), 512ll << 20);
    EXPECT_EQ(parse_memory("512mb"), 512ll << 20);
    EXPECT_EQ(parse_memory("512MiB"), 512ll << 20);
    EXPECT_EQ(parse_memory("512 m"), 512ll << 20);
    EXPECT_EQ(parse_memory("1g"), 1ll << 30);
    EXPECT_EQ(parse_memory("2GB"), 2ll << 30);
    EXPECT_EQ(parse_memory("1.5g"), 3ll << 29);
    EXPECT_EQ(parse_memory("8192k"), 8ll << 20);
    EXPECT_EQ(parse_memory("1t"), 1ll << 40);
    EXPECT_EQ(parse_memory("1p"), 1ll << 50);
    EXPECT_EQ(parse_memory("10000000"), 10000000);
    EXPECT_EQ(parse_memory("10000000b"), 10000000);
    EXPECT_EQ(parse_memory("6m"), 6ll << 20); // docker's minimum
    EXPECT_EQ(parse_memory("0"), 0);          // unlimited
    EXPECT_EQ(parse_memory("1.000000000000000000000000001g"), 1ll << 30);
}

TEST(CgroupParse, MemoryRejectsBadValuesNamingTheFlag) {
    for (const char* v : {"", "abc", "-1", "512x", "m", "1.g", ".5g", "1..2m", "1.2.3m", "512mm",
                          " 512m", "1e9", "0x100"})
        expect_usage(parse_memory, v, "--memory");
    expect_usage(parse_memory, "99999999999p", "--memory");         // does not fit int64
    expect_usage(parse_memory, "99999999999999999999", "--memory"); // nor uint64
    try {
        parse_memory("99999999999999999999k");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "--memory: 99999999999999999999k is too large");
    }
    try {
        parse_memory("4m");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "--memory: 4m is below the minimum memory limit of 6MB (0 = "
                               "unlimited)");
    }
    try {
        parse_memory("lots");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "--memory: invalid value \"lots\": expected a size such as 512m or "
                               "2g (units b, k, m, g, t, p; 1k = 1024)");
    }
}

TEST(CgroupParse, CpusIsADecimalInDockersRange) {
    EXPECT_DOUBLE_EQ(parse_cpus("1"), 1.0);
    EXPECT_DOUBLE_EQ(parse_cpus("0.5"), 0.5);
    EXPECT_DOUBLE_EQ(parse_cpus(".5"), 0.5);
    EXPECT_DOUBLE_EQ(parse_cpus("1."), 1.0);
    EXPECT_DOUBLE_EQ(parse_cpus("0.01"), 0.01);
    EXPECT_DOUBLE_EQ(parse_cpus("0.000000000"), 0.0); // unlimited
    EXPECT_DOUBLE_EQ(parse_cpus("0"), 0.0);
    const int n = cpus_available();
    EXPECT_DOUBLE_EQ(parse_cpus(std::to_string(n)), n);
    if (n >= 2) {
        EXPECT_DOUBLE_EQ(parse_cpus("1.5"), 1.5);
    }
}

TEST(CgroupParse, CpusRejectsBadValuesNamingTheFlag) {
    for (const char* v : {"", "abc", "-1", "1.5.2", "1e3", ".", "1,5", "3/2", " 1", "1 "})
        expect_usage(parse_cpus, v, "--cpus");
    const int n = cpus_available();
    const std::string range = "--cpus: range of CPUs is from 0.01 to " + std::to_string(n) +
                              ".00, as there are only " + std::to_string(n) + " CPUs available";
    for (const std::string& v : {std::string("0.001"), std::to_string(n) + ".5",
                                 std::to_string(n + 1), std::string("99999999999999999999999")}) {
        try {
            parse_cpus(v);
            ADD_FAILURE() << v;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::usage);
            EXPECT_EQ(e.message(), range) << v;
        }
    }
    try {
        parse_cpus("0.0000000001");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "--cpus: 0.0000000001 is too precise (at most 9 decimals)");
    }
}

TEST(CgroupParse, PidsLimitMinusOneAndZeroMeanUnlimited) {
    EXPECT_EQ(parse_pids("100"), 100);
    EXPECT_EQ(parse_pids("1"), 1);
    EXPECT_EQ(parse_pids("-1"), -1);
    EXPECT_EQ(parse_pids("0"), -1);
    EXPECT_EQ(parse_pids("9223372036854775807"), 9223372036854775807ll);
    for (const char* v : {"", "abc", "1.5", "+5", " 5", "5 ", "-2", "99999999999999999999"})
        expect_usage(parse_pids, v, "--pids-limit");
}

// --- a fake cgroup2 directory (GANTRY_CGROUP_ROOT) -----------------------------------------

TEST(CgroupFake, WritesLimitsAndEnablesControllers) {
    CgTempDir t;
    fake_cgroup(t.path(), "cpuset cpu io memory hugetlb pids", "", "1\n");
    CgroupProbe probe{.root = t.path()};
    {
        Cgroup cg = Cgroup::create("ctr1", all_limits(), probe);
        const std::string dir = t.path() + "/ctr1";
        EXPECT_EQ(cg.path(), dir);
        EXPECT_EQ(slurp(t.path() + "/cgroup.subtree_control"), "memory cpu pids\n");
        EXPECT_EQ(slurp(dir + "/memory.max"), "536870912\n");
        EXPECT_EQ(slurp(dir + "/memory.swap.max"), "536870912\n"); // docker: swap = memory
        EXPECT_EQ(slurp(dir + "/cpu.max"), "150000 100000\n");
        EXPECT_EQ(slurp(dir + "/pids.max"), "100\n");
        // A root cgroup is exempt from "no internal processes": nothing moved.
        EXPECT_FALSE(exists(t.path() + "/init"));
        EXPECT_EQ(slurp(t.path() + "/cgroup.procs"), "1\n");
        cg.add(4242);
        cg.add(4343);
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
    Cgroup cg = Cgroup::create("c", r, CgroupProbe{.root = t.path()});
    EXPECT_EQ(slurp(t.path() + "/cgroup.subtree_control"), "pids memory cpu\n");
    EXPECT_EQ(slurp(cg.path() + "/memory.max"), "max\n");
    EXPECT_EQ(slurp(cg.path() + "/memory.swap.max"), "max\n");
    EXPECT_EQ(slurp(cg.path() + "/cpu.max"), "max 100000\n");
    EXPECT_EQ(slurp(cg.path() + "/pids.max"), "max\n");

    CgTempDir t2;
    fake_cgroup(t2.path(), "cpu memory pids");
    Resources only_pids;
    only_pids.pids = 7;
    Cgroup cg2 = Cgroup::create("c", only_pids, CgroupProbe{.root = t2.path()});
    EXPECT_EQ(slurp(t2.path() + "/cgroup.subtree_control"), "pids\n");
    EXPECT_EQ(slurp(cg2.path() + "/pids.max"), "7\n");
    EXPECT_FALSE(exists(cg2.path() + "/memory.max"));
    EXPECT_FALSE(exists(cg2.path() + "/cpu.max"));
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
        Cgroup cg = Cgroup::create("c", r, CgroupProbe{.root = t.path()});
        EXPECT_EQ(slurp(cg.path() + "/cpu.max"), want) << cpus;
    }
}

TEST(CgroupFake, MovesProcessesIntoALeafFirst) {
    // "No internal processes": a non-root cgroup holding processes (as a delegated systemd scope
    // holding gantry itself does) cannot enable controllers for children until they move.
    CgTempDir t;
    fake_cgroup(t.path(), "cpu memory pids", "", "4242\n4343\n", /*root=*/false);
    Resources r;
    r.memory = 64ll << 20;
    Cgroup cg = Cgroup::create("ctr", r, CgroupProbe{.root = t.path()});
    EXPECT_EQ(slurp(t.path() + "/init/cgroup.procs"), "4242\n4343\n");
    EXPECT_EQ(slurp(t.path() + "/cgroup.procs"), "\n");
    EXPECT_EQ(slurp(t.path() + "/cgroup.subtree_control"), "memory\n");
    EXPECT_EQ(slurp(cg.path() + "/memory.max"), "67108864\n");
}

TEST(CgroupFake, NoMoveWhenTheControllersAreAlreadyEnabled) {
    CgTempDir t;
    fake_cgroup(t.path(), "cpu memory pids", "memory pids", "4242\n", /*root=*/false);
    Resources r;
    r.memory = 64ll << 20;
    r.pids = 10;
    Cgroup cg = Cgroup::create("ctr", r, CgroupProbe{.root = t.path()});
    EXPECT_FALSE(exists(t.path() + "/init"));
    EXPECT_EQ(slurp(t.path() + "/cgroup.procs"), "4242\n");
    EXPECT_EQ(slurp(t.path() + "/cgroup.subtree_control"), "memory pids\n");
}

TEST(CgroupFake, NoLimitsStillMakesACgroup) {
    CgTempDir t;
    fake_cgroup(t.path(), "", "", "99\n", /*root=*/false);
    Cgroup cg = Cgroup::create("ctr", Resources{}, CgroupProbe{.root = t.path()});
    EXPECT_TRUE(exists(cg.path() + "/cgroup.procs"));
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
        Cgroup cg = Cgroup::create("ctr", r, CgroupProbe{.root = t.path()});
        EXPECT_EQ(slurp(cg.path() + "/pids.max"), "50\n");
    }
    fake_cgroup(t.path() + "/ctr", "pids", "", "77\n");
    Error e = create_error("ctr", r, CgroupProbe{.root = t.path()});
    EXPECT_EQ(e.code(), Errc::run_failed);
    EXPECT_EQ(e.message(), "cannot apply --pids-limit: cgroup " + t.path() +
                               "/ctr already exists and holds processes (77)");
    EXPECT_EQ(slurp(t.path() + "/ctr/cgroup.procs"), "77\n"); // left alone
}

TEST(CgroupFake, MoveTransfersOwnership) {
    CgTempDir t;
    fake_cgroup(t.path(), "pids");
    Resources r;
    r.pids = 5;
    Cgroup a = Cgroup::create("a", r, CgroupProbe{.root = t.path()});
    Cgroup b = std::move(a);
    EXPECT_EQ(a.path(), ""); // NOLINT(bugprone-use-after-move): documented moved-from state
    EXPECT_EQ(b.path(), t.path() + "/a");
    EXPECT_THROW(a.add(1), Error);
    Cgroup c = Cgroup::create("c", r, CgroupProbe{.root = t.path()});
    c = std::move(b); // c's own cgroup goes
    EXPECT_FALSE(exists(t.path() + "/c"));
    EXPECT_TRUE(exists(t.path() + "/a"));
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
    Cgroup cg = Cgroup::create("envctr", r);
    EXPECT_EQ(cg.path(), t.path() + "/envctr");
    EXPECT_EQ(slurp(cg.path() + "/pids.max"), "3\n");
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
            if (line.rfind("0::", 0) == 0) own = line.substr(3);
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
