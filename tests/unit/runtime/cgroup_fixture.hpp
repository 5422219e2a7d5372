// Helpers for the cgroup tests (test_cgroup.cpp, test_cgroup_layout.cpp): temporary fake
// cgroup2 trees, mountinfo lines of another machine's layout, and running a check as nobody.
#pragma once

#include "runtime/container_cgroup.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <grp.h>
#include <gtest/gtest.h>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cgroup_fixture {

using gantry::Errc;
using gantry::Error;
using gantry::runtime::CgroupProbe;
using gantry::runtime::ContainerCgroup;
using gantry::runtime::OwnedCgroup;
using gantry::runtime::Resources;
namespace stdfs = std::filesystem;

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

inline void put(const std::string& file, const std::string& content) {
    std::ofstream out(file, std::ios::trunc);
    out << content;
}

inline std::string slurp(const std::string& file) {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline bool exists(const std::string& p) {
    return ::access(p.c_str(), F_OK) == 0;
}

// A directory that looks like a cgroup v2 directory; `root` ones have no cgroup.type.
inline void fake_cgroup(const std::string& dir, const std::string& controllers,
                        const std::string& subtree = "", const std::string& procs = "",
                        bool root = true) {
    stdfs::create_directories(dir);
    put(dir + "/cgroup.controllers", controllers.empty() ? "" : controllers + "\n");
    put(dir + "/cgroup.subtree_control", subtree.empty() ? "" : subtree + "\n");
    put(dir + "/cgroup.procs", procs);
    if (!root) put(dir + "/cgroup.type", "domain\n");
}

// A /proc/self/mountinfo line; spaces in the mount point are escaped as the kernel does.
inline std::string mountinfo_line(int id, const std::string& mountpoint, const std::string& fstype,
                                  const std::string& super_options, const std::string& root = "/") {
    std::string mp;
    for (char c : mountpoint) mp += c == ' ' ? std::string("\\040") : std::string(1, c);
    return std::to_string(id) + " 31 0:" + std::to_string(id) + " " + root + " " + mp +
           " rw,nosuid,nodev,noexec,relatime - " + fstype + " " + fstype + " " + super_options +
           "\n";
}

// This machine's layout (reference/this-machine.md), rooted at `t` instead of /sys/fs/cgroup.
inline std::string hybrid_mountinfo(const std::string& t) {
    std::string mi = "31 23 0:28 / " + t + " rw,relatime - tmpfs tmpfs rw,mode=755\n";
    int id = 32;
    for (const char* c :
         {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"})
        mi += mountinfo_line(id++, t + "/" + c, "cgroup", std::string("rw,") + c);
    mi += mountinfo_line(id++, t + "/systemd", "cgroup", "rw,name=systemd");
    mi += mountinfo_line(id++, t + "/unified", "cgroup2", "rw");
    return mi;
}

// gantry run's cgroup (ContainerCgroup::for_run), removed at the end of the scope as a run
// removes it.
inline OwnedCgroup run_cgroup(const std::string& name, const Resources& r,
                              const CgroupProbe& probe = CgroupProbe::system()) {
    return gantry::runtime::own(ContainerCgroup::for_run(name, r, probe));
}

// The directory the run's limits are in: v2's, or the first of v1's memory, cpu and pids ones.
inline std::string path_of(const OwnedCgroup& cg) {
    for (const char* c : {"memory", "cpu", "pids"})
        if (std::string d = cg->dir(c); !d.empty()) return d;
    return {};
}

inline Error create_error(const std::string& name, const Resources& r, const CgroupProbe& probe) {
    try {
        OwnedCgroup cg = run_cgroup(name, r, probe);
    } catch (const Error& e) {
        return e;
    }
    return Error(Errc::internal, "no error");
}

inline Resources all_limits() {
    Resources r;
    r.memory = 512ll << 20;
    r.cpus = 1.5;
    r.pids = 100;
    return r;
}

// Runs f in a child as uid/gid 65534 and returns what it returned, or "ERROR: message | hint".
inline std::string as_nobody(const std::function<std::string()>& f) {
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

inline void chown_nobody(const std::string& p) {
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

} // namespace cgroup_fixture
