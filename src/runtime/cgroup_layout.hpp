// Where gantry may create a container's cgroup: this host's cgroup layout, read from
// /proc/self/mountinfo and /proc/self/cgroup (CgroupProbe), and the cgroup v2 directory this
// process may write to: its own cgroup, or the nearest writable ancestor (a delegated subtree,
// as systemd's Delegate=yes makes). Where none offers the controllers a run needs, the refusal
// names exactly what is missing: no cgroup2 mount, a cgroup v1 / "hybrid" layout (which
// controllers are bound to v1 and what the cgroup2 mount offers), a controller the kernel lacks
// or that is not delegated (and the cgroup.controllers file that says so), a read-only mount,
// or no write permission.
#pragma once

#include "runtime/resources.hpp"

#include <map>
#include <string>
#include <vector>

namespace gantry::runtime {

// Where ContainerCgroup::for_run looks; CgroupProbe::system() reads the running system. Tests pass
// texts that describe another machine's layout (their mount points may lie in a temporary
// directory).
struct CgroupProbe {
    std::string mountinfo;   // the text of /proc/self/mountinfo
    std::string proc_cgroup; // the text of /proc/self/cgroup
    std::string root;        // $GANTRY_CGROUP_ROOT: the parent directory to use ("" = find it)
    static CgroupProbe system();
};

// The top of the cgroup v2 tree PROBE describes: its root ($GANTRY_CGROUP_ROOT: a fake tree's
// top) when set, else the mount point of the last cgroup2 mount of the hierarchy's root ("" when
// there is none): where the root's own files are (dmem.capacity).
std::string cgroup2_top(const CgroupProbe& probe);

namespace detail {

// What ContainerCgroup::for_run is asked for, and the subject of its messages: "cannot apply
// --memory and
// --cpus: ...". Its failures are Error(run_failed).
struct CgroupRequest {
    std::vector<std::string> needed; // controllers, in the order memory, cpu, cpuset, pids
    std::map<std::string, std::vector<std::string>> flags; // a controller's flags given
    std::string subject;

    explicit CgroupRequest(const Resources& r);
    [[noreturn]] void fail(const std::string& why, std::string hint = {}) const;
    [[noreturn]] void fail_errno(int err, const std::string& what, std::string hint = {}) const;
};

inline constexpr const char* kDelegateHint =
    "run under a delegated cgroup, e.g. systemd-run --user --scope -p Delegate=yes, or as root";

// The cgroup v2 directory to create the container's cgroup in, found through PROBE: writable,
// and offering the controllers REQUEST needs (available there, if not enabled yet). Throws
// through REQUEST naming what is missing.
std::string writable_cgroup_parent(const CgroupRequest& request, const CgroupProbe& probe);

// The names a cgroup list file holds (cgroup.controllers, cgroup.subtree_control,
// cgroup.procs), each once, without a fake tree's +/-; none when it cannot be read.
std::vector<std::string> read_cgroup_list(const std::string& file);

// A cgroup interface file's one value (container_cgroup.cpp): written in one write(2), 0 or
// errno; appended as a line to a fake tree's file (for_run's, in tests), the file made; read
// trimmed ("" when it cannot be read). permission_error: the errno of a write the caller may
// not make (EPERM, EACCES, EROFS).
int write_value(const std::string& file, const std::string& value);
int append_simulated(const std::string& file, const std::string& value);
std::string read_value(const std::string& file);
bool permission_error(int err);

// Whether P exists (a link is not followed).
bool path_exists(const std::string& p);
// Whether DIR is on a cgroup2 filesystem (not: a fake tree of $GANTRY_CGROUP_ROOT's).
bool on_cgroup2(const std::string& dir);

// A cgroup or cgroup2 mount of /proc/self/mountinfo: its root in the hierarchy, where it is
// mounted, and its super options (a v1 mount's controllers: "memory", "cpu", "name=systemd").
struct CgroupMount {
    std::string root, mountpoint, fstype;
    std::vector<std::string> super_options;
};
std::vector<CgroupMount> cgroup_mounts(const std::string& mountinfo);

} // namespace detail

} // namespace gantry::runtime
