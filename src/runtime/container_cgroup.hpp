// A container's cgroup, the one type both doors use. `gantry oci`'s is made as runc 1.1 makes it
// (create): on a cgroup v1 or "hybrid" host a directory in every v1 hierarchy (and in
// name=systemd and the hybrid cgroup2 mount, which only hold the processes), on cgroup v2 one
// directory; its place is the bundle's linux.cgroupsPath, read as runc reads it: an absolute path
// below each hierarchy's root, a relative one below the runtime's own cgroup (v1) or its parent
// (v2), the container's id when there is none. `gantry run`'s (for_run, cgroup_of_run.cpp) is
// made for --memory, --cpus and --pids-limit: on cgroup v2 in the nearest cgroup this process may
// write (cgroup_layout.hpp finds it, or says exactly what is missing), its controllers enabled
// there; on a v1 or hybrid host as `gantry oci`'s. This owns the directories: made (a v1 cpuset
// inheriting its parent's cpus and mems), limits written (cgroup_writes.hpp), processes added,
// frozen and thawed, read for statistics and OOM events, removed. Rootless, as runc: a hierarchy
// the user may not write is left out when the bundle names no cgroupsPath (with a warning), and
// then a limit it would hold fails; device rules that cannot be written are a warning. On cgroup
// v2 the device rules are an eBPF program attached to the directory (device_filter.hpp).
#pragma once

#include "oci/linux_resources.hpp"
#include "runtime/cgroup_layout.hpp"
#include "runtime/cgroup_writes.hpp"
#include "runtime/device_filter.hpp"
#include "runtime/resources.hpp"
#include "util/fd.hpp"

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::runtime {

class ContainerCgroup {
  public:
    struct Place {
        std::string cgroups_path; // linux.cgroupsPath ("" = the id, relative)
        std::string id;
        bool rootless = false;
        CgroupProbe probe = CgroupProbe::system();
        // gantry run: a kernel without swap accounting limits memory only (with a warning)
        bool swap_optional = false;
        // cgroup v2: how the device rules' program is attached to the container's directory
        void (*attach_devices)(const std::vector<bpf_insn>& program,
                               const std::string& cgroup_dir) = attach_device_filter;
    };
    // Makes the directories and writes R (whose devices are the full rule list,
    // container_device_rules). With PLACE's probe.root ($GANTRY_CGROUP_ROOT) the cgroup v2
    // directory is the place below that root, a fake tree's written as for_run writes one. Throws
    // Error (invalid for a field that cannot be applied, run_failed for what the host refused)
    // naming the field and the file; nothing is left then.
    static ContainerCgroup create(const Place& place, const oci::LinuxResources& r);
    // `gantry run`'s cgroup NAME (a single path component) with R's limits. On cgroup v2: under
    // the cgroup v2 directory this process may write to, the controllers R needs enabled in that
    // directory's cgroup.subtree_control (first moving the processes it holds into its leaf
    // "init", as the "no internal processes" rule requires of a non-root cgroup); memory.max and
    // memory.swap.max (= memory, docker's rule for --memory without --memory-swap; left out
    // with a warning when the kernel has no swap accounting), cpu.max ("quota 100000") and
    // pids.max ("max" for unlimited). A stale, empty cgroup of the same name is replaced. On a
    // v1 or hybrid host: create's place below this process's own cgroup. Throws
    // Error(run_failed) naming the flags and what is missing; nothing is left then. A parent
    // directory that is not on a cgroup2 filesystem but has a cgroup.controllers file (a fake
    // tree for tests, via $GANTRY_CGROUP_ROOT) is written like one, creating the interface files
    // the kernel would provide.
    static ContainerCgroup for_run(const std::string& name, const Resources& r,
                                   const CgroupProbe& probe = CgroupProbe::system());
    // A detached `gantry run` container's own cgroup when it asks for no limit, for docker's
    // pause alone (the freezer): on a host with a v1 freezer hierarchy, NAME below this
    // process's own cgroup there; on cgroup v2, NAME in the nearest cgroup this process may write
    // (no controller enabled: cgroup.freeze is every v2 cgroup's). Error(run_failed) naming why
    // there is none (rootless on a v1 host: the hierarchy is root's).
    static ContainerCgroup for_freezer(const std::string& name,
                                       const CgroupProbe& probe = CgroupProbe::system());
    // The cgroups process PID (0: this process) is in (its /proc/PID/cgroup), a directory per
    // hierarchy mounted here (PROBE's mountinfo): where `gantry exec` joins the processes it
    // starts, and what a container shows at a `cgroup` mount.
    static ContainerCgroup of_process(pid_t pid, const CgroupProbe& probe = CgroupProbe::system());
    // The cgroup of a container made earlier (to_json's record).
    static ContainerCgroup from_json(const nlohmann::json& j);
    nlohmann::json to_json() const;

    CgroupVersion version() const { return version_; }
    // The directory of a v1 hierarchy holding CONTROLLER ("memory"), or v2's; "" when none.
    std::string dir(const std::string& controller) const;

    // What runc 1.1 shows at a `cgroup` mount on a cgroup v1 host: for each v1 hierarchy mounted
    // here (PROBE's mountinfo) this cgroup's directory in it, named as the hierarchy's mount
    // point is ("memory", "cpu,cpuacct", "systemd"). Empty on cgroup v2.
    struct ViewBind {
        std::string name, source;
    };
    std::vector<ViewBind> v1_view(const CgroupProbe& probe = CgroupProbe::system()) const;

    void add(pid_t pid) const; // into every directory
    // Into every directory that is not this process's own (those PID is in already); one this
    // user may not write to (rootless) is left with a warning naming it.
    void join_process(pid_t pid) const;
    void set(const oci::LinuxResources& r) const; // runc's update: writes R's fields
    void freeze() const; // waits until the kernel says frozen; Error(run_failed) otherwise
    void thaw() const;
    bool frozen() const;
    // Every process in it or a cgroup below it (each directory's cgroup.procs, v1's hierarchies
    // together), sorted, without duplicates: runc's GetAllPids, what its kill --all and delete
    // signal. Empty when the directories are gone.
    std::vector<pid_t> pids() const;
    // runc's `events --stats` data: cpu, memory, pids (and hugetlb, blkio left empty).
    nlohmann::json stats() const;
    // How many times the OOM killer struck in it (memory.oom_control / memory.events oom_kill).
    std::uint64_t oom_kills() const;
    // The file whose changes announce an OOM kill (v2 memory.events), or "" (v1: oom_eventfd).
    std::string oom_events_file() const;
    // v1: an eventfd the kernel signals at each OOM (cgroup.event_control) and the
    // memory.oom_control it watches (kept open with it); none without a memory hierarchy.
    struct OomWatch {
        Fd event, control;
    };
    OomWatch watch_oom_v1() const;
    // Removes the directories (waiting briefly for exiting processes). Never throws.
    void destroy() const noexcept;

  private:
    CgroupVersion version_ = CgroupVersion::v2;
    std::map<std::string, std::string> dirs_; // v1: hierarchy ("cpu,cpuacct") -> dir; v2: ""
    bool simulated_ = false; // a fake cgroup2 tree ($GANTRY_CGROUP_ROOT): files made, tree removed
    void apply(const std::vector<CgroupWrite>& writes, bool rootless,
               bool swap_optional = false) const;
};

// A cgroup its owner removes (destroy) when it lets it go: `gantry run`'s, at the end of the run,
// or handed to its -d monitor (the caller's copy then dropped with release(), not removed).
struct RemoveCgroup {
    void operator()(ContainerCgroup* cgroup) const noexcept;
};
using OwnedCgroup = std::unique_ptr<ContainerCgroup, RemoveCgroup>;
OwnedCgroup own(ContainerCgroup cgroup);

} // namespace gantry::runtime
