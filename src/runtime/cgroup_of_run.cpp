// ContainerCgroup::for_run: `gantry run`'s cgroup, on cgroup v2 in the nearest cgroup this
// process may write (its controllers enabled there), on a v1 or hybrid host as `gantry oci`'s.
#include "runtime/cgroup_writes.hpp"
#include "runtime/container_cgroup.hpp"
#include "runtime/rt_budget.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/magic.h>
#include <string_view>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <vector>

namespace gantry::runtime {

using namespace detail;

namespace {

constexpr const char* kLeaf = "init"; // where a cgroup's own processes go (podman, dind)

// Writes value into a cgroup interface file in one write(2); returns 0 or errno. `simulated`
// (a fake tree) creates the file, as the kernel would already have it; `append` keeps content.
int write_interface(const std::string& file, const std::string& value, bool simulated,
                    bool append = false) {
    int flags = O_WRONLY | O_CLOEXEC;
    if (simulated) flags |= O_CREAT | (append ? O_APPEND : O_TRUNC);
    Fd fd(::open(file.c_str(), flags, 0644));
    if (!fd) return errno;
    std::string data = simulated ? value + "\n" : value;
    for (;;) {
        ssize_t n = ::write(fd.get(), data.data(), data.size());
        if (n >= 0) return static_cast<size_t>(n) == data.size() ? 0 : EIO;
        if (errno != EINTR) return errno;
    }
}

// "No internal processes": a non-root cgroup with processes cannot enable controllers for its
// children. Moves its processes (this one included) into its leaf "init".
void move_into_leaf(const CgroupRequest& request, const std::string& base, bool simulated) {
    const std::string leaf = base + "/" + kLeaf;
    if (::mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST)
        request.fail_errno(errno, "cannot create " + leaf, kDelegateHint);
    std::string procs;
    try {
        procs = fs::read_file(base + "/cgroup.procs");
    } catch (const Error& e) {
        request.fail(e.message());
    }
    for (std::string_view pid : text::words(procs)) {
        int err = write_interface(leaf + "/cgroup.procs", std::string(pid), simulated, true);
        if (err != 0 && err != ESRCH) // ESRCH: it exited meanwhile
            request.fail_errno(err, "cannot move process " + std::string(pid) + " into " + leaf,
                               kDelegateHint);
    }
    if (simulated) write_interface(base + "/cgroup.procs", "", true); // as if they moved
}

void enable_controllers(const CgroupRequest& request, const std::string& base, bool simulated) {
    const std::string file = base + "/cgroup.subtree_control";
    auto enabled = read_cgroup_list(file);
    std::vector<std::string> todo;
    for (const auto& c : request.needed)
        if (std::ranges::find(enabled, c) == enabled.end()) todo.push_back(c);
    if (todo.empty()) return;

    // The root cgroup has no cgroup.type and is exempt from the rule.
    if (path_exists(base + "/cgroup.type") && !read_cgroup_list(base + "/cgroup.procs").empty())
        move_into_leaf(request, base, simulated);

    std::string value;
    if (simulated) { // the kernel's view after the write: the union
        for (const auto& c : todo) enabled.push_back(c);
        value = text::join(enabled, " ");
    } else {
        for (const auto& c : todo) value += (value.empty() ? "+" : " +") + c;
    }
    for (int attempt = 0;; ++attempt) {
        int err = write_interface(file, value, simulated);
        if (err == 0) return;
        if (err == EBUSY && attempt < 3) { // processes arrived meanwhile
            move_into_leaf(request, base, simulated);
            continue;
        }
        std::string hint = err == EACCES || err == EPERM ? kDelegateHint : "";
        if (err == ENOENT) hint = "the controller is not listed in " + base + "/cgroup.controllers";
        request.fail_errno(err, "writing \"" + value + "\" to " + file, hint);
    }
}

// Whether a controller the run needs is bound to a cgroup v1 hierarchy.
bool needs_v1(const CgroupRequest& request, const CgroupProbe& probe) {
    for (const auto& m : cgroup_mounts(probe.mountinfo))
        if (m.fstype == "cgroup")
            for (const auto& c : request.needed)
                if (std::ranges::find(m.super_options, c) != m.super_options.end()) return true;
    return false;
}

} // namespace

ContainerCgroup ContainerCgroup::for_freezer(const std::string& name, const CgroupProbe& probe) {
    if (name.empty() || name == "." || name == ".." || name == kLeaf ||
        name.find_first_of("/\n") != std::string::npos)
        throw Error(Errc::invalid, "invalid cgroup name \"" + name + "\"");
    ContainerCgroup cg;
    std::string dir;
    const ContainerCgroup own = of_process(0, probe);
    if (probe.root.empty() && own.version_ == CgroupVersion::v1) {
        const std::string parent = own.dir("freezer");
        if (parent.empty())
            throw Error(Errc::run_failed,
                        "no cgroup v1 freezer hierarchy is mounted (/proc/self/mountinfo)");
        dir = parent + "/" + name;
        cg.version_ = CgroupVersion::v1;
        cg.dirs_["freezer"] = dir;
    } else {
        const CgroupRequest request(Resources{});
        const std::string base = writable_cgroup_parent(request, probe);
        cg.simulated_ = !on_cgroup2(base);
        dir = base + "/" + name;
        cg.version_ = CgroupVersion::v2;
        cg.dirs_[""] = dir;
    }
    if (::mkdir(dir.c_str(), 0755) != 0) {
        int err = errno;
        // left by a run that crashed: replaced when no process is in it
        if (err == EEXIST && read_cgroup_list(dir + "/cgroup.procs").empty() &&
            (cg.simulated_ ? (fs::remove_tree(dir), true) : ::rmdir(dir.c_str()) == 0) &&
            ::mkdir(dir.c_str(), 0755) == 0)
            err = 0;
        if (err != 0)
            throw Error(Errc::run_failed,
                        "cannot create the container's cgroup " + dir + ": " + std::strerror(err),
                        err == EACCES || err == EPERM || err == EROFS
                            ? "a cgroup v1 hierarchy is root's: run as root, or on a cgroup v2 "
                              "host under a delegated cgroup"
                            : "");
    }
    if (cg.simulated_) {
        write_interface(dir + "/cgroup.procs", "", true);
    }
    return cg;
}

ContainerCgroup ContainerCgroup::for_run(const std::string& name, const Resources& r,
                                         const CgroupProbe& probe) {
    const CgroupRequest request(r);
    if (name.empty() || name == "." || name == ".." || name == kLeaf ||
        name.find_first_of("/\n") != std::string::npos)
        throw Error(Errc::invalid, "invalid cgroup name \"" + name + "\"");

    if (probe.root.empty() && needs_v1(request, probe)) {
        if (r.cpu_rt_runtime) // docker's daemon gives its parent cgroup a budget: this run does
            make_realtime_room(realtime_hierarchy("--cpu-rt-runtime", probe),
                               of_process(0, probe).dir("cpu"), name, r.cpu_rt_period.value_or(0),
                               *r.cpu_rt_runtime, "--cpu-rt-runtime");
        ContainerCgroup::Place place;
        place.id = name; // below this process's own cgroup in each hierarchy
        place.probe = probe;
        place.swap_optional = true;
        try {
            return create(place, to_linux_resources(r));
        } catch (const Error& e) {
            // the subject names the flags: not the linux.resources field they became
            std::string why = e.message(), hint = e.hint();
            if (why.starts_with("cannot apply linux.resources.")) why.erase(0, why.find(": ") + 2);
            if (hint.starts_with("remove linux.resources."))
                hint = "use a kernel with that cgroup file, or run without the flag";
            request.fail(why, hint);
        }
    }
    const std::string base = writable_cgroup_parent(request, probe);
    const bool simulated = !on_cgroup2(base);
    enable_controllers(request, base, simulated);

    const std::string dir = base + "/" + name;
    if (::mkdir(dir.c_str(), 0755) != 0) {
        if (errno != EEXIST) request.fail_errno(errno, "cannot create " + dir, kDelegateHint);
        // Left by a run that crashed: replace it if no process is in it.
        std::vector<std::string> procs = read_cgroup_list(dir + "/cgroup.procs");
        if (!procs.empty())
            request.fail("cgroup " + dir + " already exists and holds processes (" +
                             text::join(procs, " ") + ")",
                         "stop the container that uses it, or choose another name");
        if (simulated) {
            try {
                fs::remove_tree(dir);
            } catch (const Error& e) {
                request.fail(e.message());
            }
        } else if (::rmdir(dir.c_str()) != 0) {
            request.fail_errno(errno, "cannot remove the stale cgroup " + dir);
        }
        if (::mkdir(dir.c_str(), 0755) != 0) request.fail_errno(errno, "cannot create " + dir);
    }
    ContainerCgroup cg;
    cg.version_ = CgroupVersion::v2;
    cg.dirs_[""] = dir;
    cg.simulated_ = simulated;
    try { // from here on, a failure removes the directory
        if (simulated) write_interface(dir + "/cgroup.procs", "", true);
        // the limits as linux.resources, written as gantry oci writes them (cgroup_writes.hpp)
        std::string previous; // a file written again (dmem's regions) keeps the earlier lines
        for (const CgroupWrite& w : cgroup_writes(to_linux_resources(r), CgroupVersion::v2)) {
            if (w.file == "memory.swap.max" && !simulated && !path_exists(dir + "/" + w.file)) {
                log::warn("the kernel has no swap accounting (no memory.swap.max): --memory "
                          "limits memory but not swap");
                continue;
            }
            int err = write_interface(dir + "/" + w.file, w.value, simulated, w.file == previous);
            previous = w.file;
            if (err != 0)
                request.fail_errno(err, "writing \"" + w.value + "\" to " + dir + "/" + w.file);
        }
    } catch (...) {
        cg.destroy();
        throw;
    }
    return cg;
}

} // namespace gantry::runtime
