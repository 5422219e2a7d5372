// Resource limits (--memory, --cpus, --pids-limit) through cgroup v2.
//
// gantry uses only cgroup v2, and only a directory this process may write to: its own cgroup, or
// the nearest writable ancestor (a delegated subtree, as systemd's Delegate=yes makes). Where no
// such directory offers the controllers a run needs, Cgroup::create fails with one line naming
// exactly what is missing: no cgroup2 mount, a cgroup v1 / "hybrid" layout (which controllers are
// bound to v1 and what the cgroup2 mount offers), a controller the kernel lacks or that is not
// delegated (and the cgroup.controllers file that says so), or no write permission.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>

namespace gantry::runtime {

struct Resources {
    std::optional<std::int64_t> memory; // bytes; 0 = unlimited
    std::optional<double> cpus;         // CPUs; 0 = unlimited
    std::optional<std::int64_t> pids;   // -1 = unlimited
    bool any() const { return memory || cpus || pids; }
};

// docker's flag values; each throws Error(Errc::usage) naming its flag.
// --memory: a size with an optional unit b, k, m, g, t or p (binary: 1k = 1024; "512m", "1.5g",
// "2GiB", "1024"); 0 means unlimited; otherwise at least 6 MiB (docker's minimum).
std::int64_t parse_memory(const std::string& value);
// The same sizes (binary units, as docker's RAMInBytes) for another flag: --shm-size.
std::int64_t parse_ram_size(const std::string& value, const std::string& flag);
// --cpus: a decimal number of CPUs ("1.5", ".5"), at most 9 decimals; 0 means unlimited;
// otherwise from 0.01 up to the number of CPUs this process may run on (docker's range).
double parse_cpus(const std::string& value);
// --pids-limit: an integer; 0 and -1 mean unlimited (returned as -1).
std::int64_t parse_pids(const std::string& value);

// Where Cgroup::create looks; CgroupProbe::system() reads the running system. Tests pass texts
// that describe another machine's layout (their mount points may lie in a temporary directory).
struct CgroupProbe {
    std::string mountinfo;   // the text of /proc/self/mountinfo
    std::string proc_cgroup; // the text of /proc/self/cgroup
    std::string root;        // $GANTRY_CGROUP_ROOT: the parent directory to use ("" = find it)
    static CgroupProbe system();
};

class Cgroup {
  public:
    // Creates the cgroup `name` (a single path component) under the cgroup v2 directory this
    // process may write to, enables the controllers `r` needs in that directory's
    // cgroup.subtree_control (first moving the processes it holds into its leaf "init", as the
    // "no internal processes" rule requires of a non-root cgroup), and writes memory.max and
    // memory.swap.max (= memory, docker's rule for --memory without --memory-swap; skipped when
    // the kernel has no swap accounting), cpu.max ("quota 100000") and pids.max ("max" for
    // unlimited). A stale, empty cgroup of the same name is replaced. Throws
    // Error(Errc::run_failed) naming what is missing.
    //
    // A parent directory that is not on a cgroup2 filesystem but has a cgroup.controllers file
    // (a fake tree for tests, via $GANTRY_CGROUP_ROOT) is written like one, creating the
    // interface files the kernel would provide.
    static Cgroup create(const std::string& name, const Resources& r);
    static Cgroup create(const std::string& name, const Resources& r, const CgroupProbe& probe);

    // Moves pid into this cgroup (writes it to cgroup.procs). Throws Error(Errc::run_failed).
    void add(pid_t pid);
    std::string path() const { return path_; }

    // Removes the cgroup once its processes are gone (waits briefly for dying ones). Never throws.
    ~Cgroup();
    Cgroup(Cgroup&& o) noexcept;
    Cgroup& operator=(Cgroup&& o) noexcept;
    Cgroup(const Cgroup&) = delete;
    Cgroup& operator=(const Cgroup&) = delete;

  private:
    Cgroup(std::string path, bool simulated) : path_(std::move(path)), simulated_(simulated) {}
    void remove() noexcept;

    std::string path_; // "" once moved from
    bool simulated_ = false;
};

} // namespace gantry::runtime
