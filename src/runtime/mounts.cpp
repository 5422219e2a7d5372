#include "runtime/mounts.hpp"

#include "runtime/cgroup_v1_view.hpp"
#include "runtime/child_failure.hpp"
#include "runtime/fd_passing.hpp"
#include "runtime/launcher.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/mount.h>
#include <optional>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace gantry::runtime::detail {

namespace {

bool mounts_scratch_at_cwd = false; // set_scratch_at_cwd, in the forked child
int mounts_scratch_dir = -1;        // the tmpfs attached on the working directory, until pivot_root

// A propagation option: MS_SHARED, MS_SLAVE, MS_PRIVATE or MS_UNBINDABLE, for the mount alone
// or the tree under it (the r- forms).
struct Propagation {
    unsigned long type = 0;
    bool recursive = false;
};

// runc's mountPropagationMapping: "rslave" -> {MS_SLAVE, recursive}; nullopt for another word.
std::optional<Propagation> propagation_of(const std::string& o) {
    const bool r = o.size() > 1 && o[0] == 'r';
    const std::string base = r ? o.substr(1) : o;
    unsigned long type = base == "shared"       ? MS_SHARED
                         : base == "slave"      ? MS_SLAVE
                         : base == "private"    ? MS_PRIVATE
                         : base == "unbindable" ? MS_UNBINDABLE
                                                : 0;
    if (!type) return std::nullopt;
    return Propagation{type, r};
}

struct Flags {
    unsigned long flags = 0;
    std::string data;
    bool readonly = false, recursive = false;
    unsigned long attr = 0;               // MOUNT_ATTR_* for binds
    std::vector<Propagation> propagation; // applied in order once the mount is made
};

Flags parse_options(const std::vector<std::string>& opts) {
    Flags f;
    for (auto& o : opts) {
        if (o == "ro")
            f.readonly = true;
        else if (o == "rw") {
        } else if (o == "nosuid") {
            f.flags |= MS_NOSUID;
            f.attr |= MOUNT_ATTR_NOSUID;
        } else if (o == "nodev") {
            f.flags |= MS_NODEV;
            f.attr |= MOUNT_ATTR_NODEV;
        } else if (o == "noexec") {
            f.flags |= MS_NOEXEC;
            f.attr |= MOUNT_ATTR_NOEXEC;
        } else if (o == "strictatime")
            f.flags |= MS_STRICTATIME;
        else if (o == "rbind")
            f.recursive = true;
        else if (o == "relatime")
            f.flags |= MS_RELATIME;
        else if (o == "noatime") {
            f.flags |= MS_NOATIME;
            f.attr |= MOUNT_ATTR_NOATIME;
        } else if (o == "nodiratime") {
            f.flags |= MS_NODIRATIME;
            f.attr |= MOUNT_ATTR_NODIRATIME;
        } else if (o == "sync")
            f.flags |= MS_SYNCHRONOUS;
        else if (o == "dirsync")
            f.flags |= MS_DIRSYNC;
        else if (auto p = propagation_of(o))
            f.propagation.push_back(*p);
        else if (o == "bind" || o == "exec" || o == "suid" || o == "dev" || o == "norelatime" ||
                 o == "tmpcopyup" || o == "notmpcopyup" || o == "copy-symlink" || o == "idmap" ||
                 o == "ridmap") {
            // defaults, podman's own options, and idmapping (done before: idmapped_mount.hpp)
        } else
            f.data += (f.data.empty() ? "" : ",") + o;
    }
    if (f.readonly) f.attr |= MOUNT_ATTR_RDONLY;
    return f;
}

void set_attr(int fd, unsigned long attr, bool recursive, const std::string& what) {
    if (attr && !set_mount_attr(fd, attr, recursive))
        fail_errno("cannot set mount flags on " + what);
}

void attach(int tree, int target, const std::string& what) {
    if (!move_tree(tree, target)) fail_errno("cannot mount on " + what);
}

// A mount's propagation options, in order, on the mount TREE names (its root), as runc's
// mountPropagate applies them once the mount is made.
void set_propagation(int tree, const std::vector<Propagation>& props, const std::string& what) {
    for (const auto& p : props) {
        struct mount_attr a {};
        a.propagation = p.type;
        if (::syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (p.recursive ? AT_RECURSIVE : 0),
                      &a, sizeof a) != 0)
            fail_errno("cannot set the mount propagation of " + what);
    }
}

// The mount holding the directory DIRFD/PATH (AT_EMPTY_PATH: DIRFD itself, which needs no
// search permission): its mount point, as /proc/self/mountinfo names it, and whether it is
// shared. Empty when not found.
struct MountOf {
    std::string mount_point;
    bool shared = false;
};

std::string unescape_mountinfo(const std::string& s) { // "\\040" -> a space
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && s.find_first_not_of("01234567", i + 1) >= i + 4) {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

MountOf mount_of(int dirfd, const char* path) {
    struct statx sx {};
    if (::statx(dirfd, path, *path ? 0 : AT_EMPTY_PATH, STATX_MNT_ID, &sx) != 0 ||
        !(sx.stx_mask & STATX_MNT_ID))
        fail_errno(std::string("cannot find the mount holding ") + (*path ? path : "."));
    std::string info;
    try {
        info = fs::read_file("/proc/self/mountinfo");
    } catch (const Error& e) {
        fail(Errc::run_failed, e.message());
    }
    const std::string id = std::to_string(sx.stx_mnt_id) + " ";
    for (std::size_t at = 0; at < info.size();) {
        std::size_t end = info.find('\n', at);
        if (end == std::string::npos) end = info.size();
        std::string line = info.substr(at, end - at);
        at = end + 1;
        if (!line.starts_with(id)) continue;
        // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER
        std::vector<std::string> f;
        for (std::size_t b = 0; b < line.size();) {
            std::size_t e = line.find(' ', b);
            if (e == std::string::npos) e = line.size();
            f.push_back(line.substr(b, e - b));
            b = e + 1;
        }
        if (f.size() < 6) break;
        MountOf m{unescape_mountinfo(f[4]), false};
        for (std::size_t i = 6; i < f.size() && f[i] != "-"; ++i)
            if (f[i].starts_with("shared:")) m.shared = true;
        return m;
    }
    return {};
}

// The propagation set on "/" of the new mount namespace before anything is mounted:
// linux.rootfsPropagation as runc's prepareRoot sets it (runc's default "rslave" is set by
// gantry oci), or everything private ("", gantry run's).
unsigned long root_propagation(const std::string& p) {
    if (p.empty()) return MS_REC | MS_PRIVATE;
    auto prop = propagation_of(p);
    if (!prop) fail(Errc::invalid, "linux.rootfsPropagation \"" + p + "\" is not a propagation");
    return prop->type | (prop->recursive ? MS_REC : 0);
}

// Whether mounts in the namespace may still be shared after root_propagation (so that a mount
// gantry makes could propagate to the host's peers): not after rprivate, rslave or runbindable,
// which reach every mount.
bool may_be_shared(const std::string& p) {
    return !p.empty() && p != "rprivate" && p != "rslave" && p != "runbindable";
}

// The container's private tmpfs on the mount point: /etc/hostname, and the overlay's upper and
// work dirs for an in-memory writable layer. Nobody else sees it (our mount namespace only);
// after pivot_root only the overlay and the hostname bind still reach it. Its descriptor goes
// to the parent (fd_sock) when the parent measures what the run wrote.
// The tmpfs made detached (fsopen, fsmount) and attached on the working directory, the mount
// point in this mount namespace (set_scratch_at_cwd): nothing is looked up by path, so no
// directory above the mount point, nor the mount point, needs to be searchable by the
// container's root. Returns a descriptor of the tmpfs's root directory.
Fd mount_scratch_on_cwd(std::uint64_t size, const std::string& what) {
    auto sys = [](long r) { return static_cast<int>(r); };
    Fd fs(sys(::syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC)));
    std::string sz = std::to_string(size);
    if (!fs || ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, "mode", "0700", 0) != 0 ||
        (size &&
         ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, "size", sz.c_str(), 0) != 0) ||
        ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
        fail_errno("cannot make the container's tmpfs for " + what);
    Fd mnt(sys(
        ::syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)));
    if (!mnt) fail_errno("cannot make the container's tmpfs for " + what);
    if (!move_tree(mnt.get(), AT_FDCWD))
        fail_errno("cannot mount the container's tmpfs on " + what);
    Fd dir(::openat(mnt.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) fail_errno("cannot open the container's tmpfs");
    return dir;
}

void mount_scratch(const Launch& l, int fd_sock) {
    std::uint64_t size =
        l.overlay && l.overlay->memory && l.overlay->memory_size ? l.overlay->memory_size : 0;
    Fd dir;
    // by its path where this process may search it (mountinfo's upperdir= then names it), else
    // on the working directory (a container root that is not the host's root)
    const bool at_cwd =
        mounts_scratch_at_cwd && ::access(l.mount_point.c_str(), X_OK) != 0 && errno == EACCES;
    mounts_scratch_at_cwd = false;
    if (at_cwd) {
        dir = mount_scratch_on_cwd(size, l.mount_point);
        mounts_scratch_dir = ::fcntl(dir.get(), F_DUPFD_CLOEXEC, 0);
        if (mounts_scratch_dir < 0) fail_errno("cannot keep the container's tmpfs open");
    } else {
        const char* mp = l.mount_point.c_str();
        std::string opts = "mode=0700";
        if (size) opts += ",size=" + std::to_string(size);
        if (::mount("tmpfs", mp, "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0)
            fail_errno("cannot mount the container's tmpfs on " + l.mount_point);
        dir.reset(::open(mp, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir) fail_errno("cannot open the container's tmpfs");
    }
    // 0755 whatever the umask: the mount point of the root, and the upper dir whose mode "/"
    // takes; upper/ and work/ only for an in-memory writable layer.
    auto mkdir_0755 = [&](const char* d) {
        if (::mkdirat(dir.get(), d, 0755) != 0 || ::fchmodat(dir.get(), d, 0755, 0) != 0)
            fail_errno(std::string("cannot create ") + d + " in the container's tmpfs");
    };
    mkdir_0755("root");
    if (l.overlay && l.overlay->memory) {
        mkdir_0755("upper");
        mkdir_0755("work");
    }
    if (!l.hostname.empty()) {
        Fd f(::openat(dir.get(), "hostname", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        std::string line = l.hostname + "\n";
        if (!f || ::write(f.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
            fail_errno("cannot write the container's /etc/hostname");
    }
    if (l.fuse_serve || l.lower_tree >= 0) mkdir_0755("lower");
    if (fd_sock >= 0 && l.on_scratch) send_fd(fd_sock, dir.get(), "the container's tmpfs");
}

// The image served over FUSE by gantry (Launch::fuse_serve) on MOUNT_POINT/lower: /dev/fuse is
// opened here, inside the container's user namespace (the kernel requires the mounter's), and
// its descriptor goes to gantry, which answers the requests the overlay mount makes next.
void mount_fuse_lower(const Launch& l, int fd_sock) {
    Fd dev(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
    if (!dev) {
        int e = errno;
        if (e == ENOENT || e == ENXIO || e == ENODEV)
            fail(Errc::run_failed, "/dev/fuse is missing: a squashfs image is mounted through FUSE",
                 "load the fuse module (modprobe fuse) and create the node (mknod -m 0666 "
                 "/dev/fuse c 10 229), or unpack the image: gantry load FILE.sqsh");
        fail(Errc::run_failed,
             std::string("cannot open /dev/fuse (") + std::strerror(e) +
                 "): a squashfs image is mounted through FUSE",
             "make it usable by everyone as distributions ship it (chmod 0666 /dev/fuse), or "
             "unpack the image: gantry load FILE.sqsh");
    }
    std::string target = scratch_path(l) + "/lower";
    std::string data = l.fuse_options(dev.get());
    if (::mount("gantry", target.c_str(), "fuse.gantry", MS_NOSUID | MS_NODEV | MS_RDONLY,
                data.c_str()) != 0)
        fail_errno("cannot mount the image through FUSE on " + target,
                   "check that FUSE works here (grep fuse /proc/filesystems)");
    if (fd_sock < 0) fail(Errc::internal, "no socket to pass the FUSE descriptor over");
    send_fd(fd_sock, dev.get(), "the FUSE descriptor");
}

} // namespace

void set_scratch_at_cwd(bool at_cwd) {
    mounts_scratch_at_cwd = at_cwd;
}

namespace {
// linux.rootfsPropagation (r)unbindable made the root directory's mount unbindable: it is made
// private first (crun's make_parent_mount_private; runc 1.1 fails with EINVAL), then bound
bool bind_unbindable(const std::string& rootfs, const std::string& root) {
    MountOf m = mount_of(AT_FDCWD, rootfs.c_str());
    return ::mount(nullptr, m.mount_point.c_str(), nullptr, MS_PRIVATE, nullptr) == 0 &&
           ::mount(rootfs.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) == 0;
}
} // namespace

std::string scratch_path(const Launch& l) {
    return mounts_scratch_dir >= 0 ? fd_path(mounts_scratch_dir) : l.mount_point;
}

void mount_root(const Launch& l, int fd_sock) {
    const std::string& prop = l.spec.rootfs_propagation;
    if (::mount(nullptr, "/", nullptr, root_propagation(prop), nullptr) != 0)
        fail_errno(prop.empty()
                       ? std::string("cannot make the mount namespace private")
                       : "cannot make the mount namespace " + prop + " (linux.rootfsPropagation)");
    const bool shared = may_be_shared(prop);
    if (shared) {
        // runc's rootfsParentMountPrivate: the mount the container's tmpfs goes on is made
        // private if it is shared, so that the tmpfs (and the root on it) do not propagate to
        // the host's peers of that mount
        const bool cwd =
            mounts_scratch_at_cwd && ::access(l.mount_point.c_str(), X_OK) != 0 && errno == EACCES;
        MountOf parent = mount_of(AT_FDCWD, cwd ? "" : l.mount_point.c_str());
        if (parent.shared &&
            ::mount(nullptr, parent.mount_point.c_str(), nullptr, MS_PRIVATE, nullptr) != 0)
            fail_errno("cannot make " + parent.mount_point + " private in the container's " +
                       "mount namespace");
    }
    mount_scratch(l, fd_sock);
    if (l.fuse_serve) mount_fuse_lower(l, fd_sock);
    if (l.lower_tree >= 0) {
        std::string target = scratch_path(l) + "/lower";
        if (::syscall(SYS_move_mount, l.lower_tree, "", AT_FDCWD, target.c_str(),
                      MOVE_MOUNT_F_EMPTY_PATH) != 0)
            fail_errno("cannot attach the image's mount on " + target);
        ::close(l.lower_tree);
    }
    std::string root = scratch_path(l) + "/root";
    if (l.overlay) {
        const Overlay& o = *l.overlay;
        if (::chdir(o.layers_dir.c_str()) != 0) fail_errno("cannot enter " + o.layers_dir);
        std::string lower;
        for (auto& d : o.lower) lower += (lower.empty() ? "" : ":") + d;
        std::string upper = o.memory ? scratch_path(l) + "/upper" : o.upper;
        std::string work = o.memory ? scratch_path(l) + "/work" : o.work;
        if (upper.empty() && o.lower.size() == 1) {
            if (::mount(o.lower[0].c_str(), root.c_str(), nullptr, MS_BIND, nullptr) != 0)
                fail_errno("cannot bind the image root");
        } else {
            std::string data = "lowerdir=" + lower;
            if (!upper.empty()) data += ",upperdir=" + upper + ",workdir=" + work;
            data += ",userxattr";
            if (data.size() > 4000)
                fail(Errc::run_failed, "the image has too many layers for one overlay mount",
                     "squash the image (gantry slim --squash) or use fewer layers");
            // "volatile": the container layer is private and discarded, so skip the sync of
            // the upper filesystem at unmount (1-2 ms per run on disk); older kernels lack it.
            // Not for an upper layer that outlives the container (--overlay DIR).
            std::string fast = upper.empty() || o.persistent ? data : data + ",volatile";
            if (::mount("overlay", root.c_str(), "overlay", 0, fast.c_str()) != 0 &&
                ::mount("overlay", root.c_str(), "overlay", 0, data.c_str()) != 0)
                throw OverlayUnavailable(std::string("overlayfs mount failed: ") +
                                         std::strerror(errno));
        }
        [[maybe_unused]] const int back_to_root = ::chdir("/"); // "/" exists: cannot fail
    } else if (::mount(l.rootfs.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0 &&
               !(errno == EINVAL && prop.ends_with("unbindable") &&
                 bind_unbindable(l.rootfs, root))) {
        fail_errno("cannot bind the root directory " + l.rootfs);
    } else if (shared && mount_of(AT_FDCWD, root.c_str()).shared &&
               ::mount(nullptr, root.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) {
        // a bind of a shared mount is its peer: private, as runc's root is once it made the
        // mount it binds private (and pivot_root refuses a shared root)
        fail_errno("cannot make the container's root private");
    }
}

namespace {

// A mount made on a path (not a tree of ours): its propagation options set on the mount now at
// M's destination, looked up in-root.
void propagate_mounted(int rootfd, const oci::Mount& m, const Flags& f) {
    if (f.propagation.empty()) return;
    Fd top(fs::openat_in_root(rootfd, m.destination, O_PATH | O_DIRECTORY));
    if (!top) fail_errno("cannot open " + m.destination + " inside the container");
    set_propagation(top.get(), f.propagation, m.destination);
}

} // namespace

void mount_in_root(int rootfd, const oci::Mount& m, TargetDir& last, int prepared) {
    Flags f = parse_options(m.options);
    if (m.type == "bind" || m.type.empty() || prepared >= 0) {
        Fd tree = prepared >= 0 ? Fd(::fcntl(prepared, F_DUPFD_CLOEXEC, 3))
                                : clone_tree(AT_FDCWD, m.source.c_str(), f.recursive);
        if (!tree && errno == EINVAL && f.recursive) // the source's mount is unbindable
            fail_errno("cannot bind " + m.source + " to " + m.destination +
                           ": its mount is unbindable",
                       "linux.rootfsPropagation runbindable makes every mount so (crun fails "
                       "too): use unbindable, or bind nothing of the host's");
        if (!tree && errno == EINVAL) // a non-recursive bind of a tree holding locked mounts
            fail_errno("cannot bind " + m.source + " to " + m.destination +
                           " without the mounts under it",
                       "give this mount the rbind option (a user namespace may not hide the "
                       "host's mounts below " +
                           m.source + ")");
        if (!tree) fail_errno("bind mount source " + m.source + " is not accessible");
        struct stat st {};
        if (::fstat(tree.get(), &st) != 0) fail_errno("cannot stat " + m.source);
        set_attr(tree.get(), f.attr, true, m.destination);
        Fd target = ensure_target(rootfd, m.destination, S_ISDIR(st.st_mode), &last);
        attach(tree.get(), target.get(), m.destination);
        set_propagation(tree.get(), f.propagation, m.destination);
    } else if (m.type == "cgroup" || m.type == "cgroup2") {
        Fd target = ensure_target(rootfd, m.destination, true, &last);
        unsigned long flags = f.flags | (f.readonly ? MS_RDONLY : 0);
        if (m.type == "cgroup") {
            // cgroup v1 or hybrid: runc's view, the container's own cgroup in each hierarchy
            const auto& view = cgroup_v1_view();
            if (!view.empty()) {
                mount_cgroup_v1_view(target.get(), view, {f.flags, f.attr, f.readonly},
                                     m.destination);
                propagate_mounted(rootfd, m, f);
                last.mounted();
                return;
            }
        }
        // cgroup v2 (or a `cgroup2` mount): a fresh cgroup2, as runc's mountCgroupV2, whose root
        // is the container's cgroup in its cgroup namespace; where the kernel refuses it (no
        // cgroup namespace of its own, rootless), the host's /sys/fs/cgroup, recursively, with
        // the mount's flags
        if (::mount("cgroup2", fd_path(target.get()).c_str(), "cgroup2", flags, nullptr) == 0) {
            propagate_mounted(rootfd, m, f);
            last.mounted();
            return;
        }
        Fd tree = clone_tree(AT_FDCWD, "/sys/fs/cgroup", true);
        if (!tree) fail_errno("cannot bind the host's /sys/fs/cgroup to " + m.destination);
        set_attr(tree.get(), f.attr | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                 true, m.destination);
        attach(tree.get(), target.get(), m.destination);
        set_propagation(tree.get(), f.propagation, m.destination);
    } else {
        const bool tmpfs = m.type == "tmpfs"; // runc's: writable, its directory's mode, then ro
        const int mode = tmpfs ? tmpfs_mode(rootfd, m.destination, f.data) : -1;
        Fd target = ensure_target(rootfd, m.destination, true, &last);
        unsigned long flags = f.flags | (f.readonly && !tmpfs ? MS_RDONLY : 0);
        if (::mount(m.source.c_str(), fd_path(target.get()).c_str(), m.type.c_str(), flags,
                    f.data.empty() ? nullptr : f.data.c_str()) != 0)
            fail_errno("cannot mount " + m.type + " on " + m.destination);
        if (tmpfs) finish_tmpfs(target.get(), m.destination, mode, f.readonly);
        propagate_mounted(rootfd, m, f);
    }
    last.mounted();
}

void enter_root(const Launch& l) {
    // runc's pivotRoot: unless everything is private, the old root is made rslave before it is
    // detached, so that detaching it unmounts nothing of the host's through a shared peer
    // (linux.rootfsPropagation shared/rshared); from a working directory in the old root, as
    // "." after pivot_root names the new root to mount(2) (only umount2 goes to the top mount)
    const bool slave_old =
        !l.spec.rootfs_propagation.empty() && l.spec.rootfs_propagation != "rprivate";
    Fd old_root;
    if (slave_old) {
        old_root.reset(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!old_root) fail_errno("cannot open the old root");
    }
    if (::chdir((scratch_path(l) + "/root").c_str()) != 0) fail_errno("cannot enter the root");
    if (mounts_scratch_dir >= 0) {
        ::close(mounts_scratch_dir);
        mounts_scratch_dir = -1;
    }
    if (::syscall(SYS_pivot_root, ".", ".") != 0) fail_errno("pivot_root failed");
    if (slave_old) {
        if (::fchdir(old_root.get()) != 0) fail_errno("cannot enter the old root");
        old_root.reset();
        if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0)
            fail_errno("cannot make the old root a slave");
    }
    if (::umount2(".", MNT_DETACH) != 0) fail_errno("cannot detach the old root");
    if (::chdir("/") != 0) fail_errno("chdir / failed");
    // a missing working directory is made here, mode 0755, before the root turns read-only (runc
    // makes it right after pivot_root too); finish_process enters it
    Fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    Fd cwd = ensure_target(root.get(), l.spec.cwd, true, nullptr, "working directory");
    struct stat st {};
    if (::fstat(cwd.get(), &st) != 0 || !S_ISDIR(st.st_mode))
        fail(Errc::run_failed, "process.cwd " + l.spec.cwd + " is not a directory",
             "name a directory, or a path that does not exist yet (it is created)");
    if (l.spec.root_readonly) {
        set_attr(root.get(), MOUNT_ATTR_RDONLY, false, "/");
    }
}

} // namespace gantry::runtime::detail
