// The cgroup v1 view of a `cgroup` mount (runtime/cgroup_v1_view.hpp), and prepare_cgroup_view
// (runtime/mounts.hpp), which reads it before the container's cgroup namespace exists.
#include "runtime/cgroup_v1_view.hpp"

#include "oci/runtime_spec.hpp"
#include "runtime/child_failure.hpp"
#include "runtime/in_root.hpp"
#include "runtime/mounts.hpp"
#include "util/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <linux/mount.h>
#include <optional>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace gantry::runtime::detail {

namespace {

std::optional<std::vector<ContainerCgroup::ViewBind>>& cached_cgroup_view() {
    static std::optional<std::vector<ContainerCgroup::ViewBind>> view;
    return view;
}

} // namespace

const std::vector<ContainerCgroup::ViewBind>& cgroup_v1_view() {
    auto& view = cached_cgroup_view();
    if (!view) view = ContainerCgroup::of_process(0).v1_view();
    return *view;
}

namespace {

// Whether the container has a cgroup namespace of its own (prepare_cgroup_view).
bool& cgroup_view_fresh() {
    static bool fresh = false;
    return fresh;
}

} // namespace

void mount_cgroup_v1_view(int target, const std::vector<ContainerCgroup::ViewBind>& view,
                          const CgroupViewFlags& f, const std::string& dest) {
    auto sys = [](long r) { return static_cast<int>(r); };
    Fd fs(sys(::syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC)));
    if (!fs || ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, "source", "tmpfs", 0) != 0 ||
        ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, "mode", "755", 0) != 0 ||
        ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
        fail_errno("cannot make the cgroup view's tmpfs for " + dest);
    Fd dir(sys(::syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC,
                         MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)));
    if (!dir) fail_errno("cannot make the cgroup view's tmpfs for " + dest);
    // DIR: the tmpfs's root, now on DEST
    if (!move_tree(dir.get(), target)) fail_errno("cannot mount on " + dest);
    for (const auto& b : view) {
        const std::string sub = dest + "/" + b.name;
        if (::mkdirat(dir.get(), b.name.c_str(), 0755) != 0 && errno != EEXIST)
            fail_errno("cannot create " + sub);
        Fd at(::openat(dir.get(), b.name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!at) fail_errno("cannot open " + sub);
        // in a cgroup namespace of its own, a fresh mount of the hierarchy (its root the
        // container's cgroup), named as runc names it
        const bool systemd = b.name == "systemd";
        const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC |
                                    (f.readonly ? MS_RDONLY : 0) | (f.ms_flags & MS_RELATIME);
        const bool mounted =
            cgroup_view_fresh() &&
            ::mount(systemd ? "systemd" : "cgroup", fd_path(at.get()).c_str(), "cgroup", flags,
                    systemd ? "name=systemd" : b.name.c_str()) == 0;
        if (!mounted) { // else the container's directory bound from the host
            Fd tree = clone_tree(AT_FDCWD, b.source.c_str(), true);
            if (!tree) fail_errno("cannot bind the container's cgroup " + b.source + " to " + sub);
            if (!set_mount_attr(tree.get(),
                                f.attr | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                                true))
                fail_errno("cannot set mount flags on " + sub);
            if (!move_tree(tree.get(), at.get())) fail_errno("cannot mount on " + sub);
        }
        if (b.name.find(',') == std::string::npos) continue;
        for (std::size_t start = 0; start <= b.name.size();) {
            std::size_t comma = std::min(b.name.find(',', start), b.name.size());
            std::string one = b.name.substr(start, comma - start);
            if (::symlinkat(b.name.c_str(), dir.get(), one.c_str()) != 0 && errno != EEXIST)
                fail_errno("cannot link " + dest + "/" + one + " to " + b.name);
            start = comma + 1;
        }
    }
}

void prepare_cgroup_view(const oci::RuntimeSpec& s) {
    if (std::ranges::any_of(s.mounts, [](const oci::Mount& m) { return m.type == "cgroup"; }))
        cgroup_v1_view();
    cgroup_view_fresh() = std::ranges::find(s.namespaces, "cgroup") != s.namespaces.end();
}

} // namespace gantry::runtime::detail
