// Resource limits of `gantry run` (--memory, --cpus, --pids-limit).
//
// On cgroup v2, a directory this process may write to: its own cgroup, or the nearest writable
// ancestor (cgroup_layout.hpp finds it, or says exactly what is missing). A container's cgroup is
// created there, its controllers enabled, its limits (resources.hpp) written, its processes
// added, and it is removed once they are gone. Where the controllers a run needs are on cgroup v1
// (a v1 or "hybrid" host), the container's cgroup is made as `gantry oci` makes one
// (container_cgroup.hpp: a directory per hierarchy below this process's own cgroup). Both write
// the limits through cgroup_writes.hpp.
#pragma once

#include "runtime/cgroup_layout.hpp"
#include "runtime/container_cgroup.hpp"
#include "runtime/resources.hpp"

#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>

namespace gantry::runtime {

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
    // The cgroup's directory (on v1: that of the first limited controller's hierarchy).
    std::string path() const { return path_; }

    // Gives the cgroup up without removing it: another process owns it now (`run -d`'s monitor,
    // which removes it once the container is gone).
    void release() noexcept;

    // Removes the cgroup once its processes are gone (waits briefly for dying ones). Never throws.
    ~Cgroup();
    Cgroup(Cgroup&& o) noexcept;
    Cgroup& operator=(Cgroup&& o) noexcept;
    Cgroup(const Cgroup&) = delete;
    Cgroup& operator=(const Cgroup&) = delete;

  private:
    Cgroup(std::string path, bool simulated) : path_(std::move(path)), simulated_(simulated) {}
    explicit Cgroup(ContainerCgroup v1);
    void remove() noexcept;

    std::string path_; // "" once moved from
    bool simulated_ = false;
    std::optional<ContainerCgroup> v1_; // on a cgroup v1 host
};

} // namespace gantry::runtime
