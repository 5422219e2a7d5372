#include "runtime/idmapped_mount.hpp"

#include "userns/idmap.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::runtime {

namespace {

// A user namespace holding UIDS and GIDS, as a descriptor: a child unshares one and waits while
// its maps are written from here, then is killed (the namespace lives on in the descriptor).
Fd idmapped_userns(const std::vector<oci::IdMapping>& uids, const std::vector<oci::IdMapping>& gids,
                   const std::string& what) {
    int ready[2], hold[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd ready_r(ready[0]), ready_w(ready[1]);
    if (::pipe2(hold, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd hold_r(hold[0]), hold_w(hold[1]);
    pid_t c = ::fork();
    if (c < 0) throw_errno("fork failed");
    if (c == 0) {
        char ok = ::unshare(CLONE_NEWUSER) == 0 ? 1 : 0;
        ssize_t n = ::write(ready_w.get(), &ok, 1);
        (void)n;
        char b;
        n = ::read(hold_r.get(), &b, 1); // until the parent is done (EOF)
        ::_exit(0);
    }
    ready_w.reset();
    hold_r.reset();
    auto reap = [&] {
        hold_w.reset();
        ::kill(c, SIGKILL);
        while (::waitpid(c, nullptr, 0) < 0 && errno == EINTR) {
        }
    };
    char ok = 0;
    if (::read(ready_r.get(), &ok, 1) != 1 || !ok) {
        reap();
        throw Error(Errc::invalid, what + ": cannot make the user namespace of its idmapping",
                    "user namespaces must be enabled (user.max_user_namespaces)");
    }
    Fd ns;
    try {
        userns::write_id_maps(c, uids, gids);
        ns.reset(::open(("/proc/" + std::to_string(c) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns) throw_errno(what + ": cannot open the user namespace of its idmapping");
    } catch (...) {
        reap();
        throw;
    }
    reap();
    return ns;
}

// The user namespace whose maps M is shown through: its own maps', else the container's.
Fd idmapped_userns_of(const oci::Mount& m, const std::string& what, const oci::RuntimeSpec& spec) {
    if (!m.uid_mappings.empty() || !m.gid_mappings.empty())
        return idmapped_userns(m.uid_mappings, m.gid_mappings, what);
    if (auto joined = spec.namespace_paths.find("user"); joined != spec.namespace_paths.end()) {
        Fd ns(::open(joined->second.c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns)
            throw Error(Errc::invalid,
                        what + ": cannot open the user namespace " + joined->second +
                            " whose maps it takes: " + std::strerror(errno),
                        "linux.namespaces' user path must name a user namespace, e.g. "
                        "/proc/PID/ns/user");
        return ns;
    }
    if (spec.uid_mappings.empty() || spec.gid_mappings.empty())
        throw Error(Errc::invalid,
                    what + ": no uidMappings and gidMappings, and the container no user "
                           "namespace maps to take",
                    "give the mount uidMappings and gidMappings");
    return idmapped_userns(spec.uid_mappings, spec.gid_mappings, what);
}

} // namespace

Fd idmapped_tree(const oci::Mount& m, const std::string& what, const oci::RuntimeSpec& spec) {
    // the copy holds the source's submounts with rbind; ridmap idmaps them too (runc 1.2's
    // AT_RECURSIVE for mount_setattr), else only the top mount is
    const bool recursive = std::ranges::find(m.options, "rbind") != m.options.end();
    const bool all = oci::mount_idmap(m) == oci::MountIdmap::recursive;
    Fd ns = idmapped_userns_of(m, what, spec);
    Fd tree(static_cast<int>(
        ::syscall(SYS_open_tree, AT_FDCWD, m.source.c_str(),
                  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0))));
    if (!tree)
        throw Error(Errc::invalid, what + ": cannot bind " + m.source + ": " + std::strerror(errno),
                    "the source must be a path on the host");
    struct mount_attr a {};
    a.attr_set = MOUNT_ATTR_IDMAP;
    a.userns_fd = static_cast<std::uint64_t>(ns.get());
    if (::syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH | (all ? AT_RECURSIVE : 0), &a,
                  sizeof a) != 0) {
        int err = errno;
        throw Error(Errc::invalid,
                    what + ": cannot idmap the mount of " + m.source + ": " + std::strerror(err),
                    err == EPERM ? "an idmapped mount needs root (CAP_SYS_ADMIN over the "
                                   "source's filesystem): rootless, remove its uidMappings, "
                                   "gidMappings and idmap or ridmap option"
                                 : "the source's filesystem must support idmapped mounts "
                                   "(ext4, xfs, btrfs, tmpfs on Linux 6.3+, ...), and the maps "
                                   "must not be the filesystem's own");
    }
    return tree;
}

Fd host_bind_tree(const oci::Mount& m) {
    if (!m.type.empty() && m.type != "bind") return Fd();
    bool recursive = std::ranges::find(m.options, "rbind") != m.options.end();
    return Fd(static_cast<int>(
        ::syscall(SYS_open_tree, AT_FDCWD, m.source.c_str(),
                  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0))));
}

} // namespace gantry::runtime
