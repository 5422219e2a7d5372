#include "runtime/in_root.hpp"

#include "runtime/child_failure.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace gantry::runtime::detail {

std::string fd_path(int fd) {
    return "/proc/self/fd/" + std::to_string(fd);
}

void TargetDir::mounted() {
    if (!target_in_it) {
        fd.reset();
        path.clear();
    }
    target_in_it = false;
}

namespace {

// Creates `leaf` in the directory dirfd (a directory, or an empty file) and opens it, never
// following a link planted there; an invalid Fd (errno set) when it exists or cannot be made.
Fd create_leaf(int dirfd, const char* leaf, bool dir) {
    if (!dir)
        return Fd(
            ::openat(dirfd, leaf, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (::mkdirat(dirfd, leaf, 0755) != 0 && errno != EEXIST) return Fd();
    return Fd(::openat(dirfd, leaf, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// For a target that could not be created because the root is read-only (--read-only).
std::string ro_hint() {
    return errno == EROFS ? "the container's root is read-only: use a path the image has, or "
                            "bind a directory there with -v"
                          : "";
}

} // namespace

// Opens (creating if missing) the mount target `dest` inside the root, fd-relative and in-root:
// no component can lead outside, whatever symlinks the image planted.
namespace {

// runc's SecureJoin: a dangling link on the way (crun's suite: /etc/not-existing ->
// ../foo/bar/not/here) leads to where the target is made. Its text is joined to the directory
// it lies in (by name), ".." going no higher than the root: the result is in-root.
std::string through_link(const std::vector<std::string>& comps, std::size_t at,
                         const std::string& link) {
    std::vector<std::string> out;
    if (link.empty() || link[0] != '/') out.assign(comps.begin(), comps.begin() + at);
    std::string cur;
    for (char c : link + "/") {
        if (c != '/') {
            cur += c;
            continue;
        }
        if (cur == "..") {
            if (!out.empty()) out.pop_back();
        } else if (!cur.empty() && cur != ".")
            out.push_back(cur);
        cur.clear();
    }
    out.insert(out.end(), comps.begin() + at + 1, comps.end());
    std::string path;
    for (auto& c : out) path += "/" + c;
    return path.empty() ? "/" : path;
}

Fd ensure_target_in(int rootfd, const std::string& dest, bool dir, TargetDir* cache,
                    const char* what, int links);

} // namespace

Fd ensure_target(int rootfd, const std::string& dest, bool dir, TargetDir* cache,
                 const char* what) {
    return ensure_target_in(rootfd, dest, dir, cache, what, 0);
}

namespace {

Fd ensure_target_in(int rootfd, const std::string& dest, bool dir, TargetDir* cache,
                    const char* what, int links) {
    std::vector<std::string> comps;
    std::string cur;
    for (char c : dest + "/") {
        if (c == '/') {
            if (!cur.empty() && cur != ".") comps.push_back(cur);
            if (cur == "..")
                fail(Errc::run_failed, "mount destination " + dest + " contains \"..\"");
            cur.clear();
        } else
            cur += c;
    }
    // Fast paths (most targets exist, or only their leaf is missing): one or two in-root opens
    // instead of one per component, or a single create relative to the directory the last
    // target was created in. All stay in-root; the walk below handles the rest.
    std::string full;
    for (auto& c : comps) full += (full.empty() ? "" : "/") + c;
    if (!comps.empty()) {
        std::string up = comps.size() > 1 ? full.substr(0, full.rfind('/')) : "";
        const char* leaf = comps.back().c_str();
        if (cache) cache->target_in_it = false;
        if (cache && cache->fd && comps.size() > 1 && cache->path == up)
            if (Fd t = create_leaf(cache->fd.get(), leaf, dir)) {
                cache->target_in_it = true;
                return t;
            }
        if (int fd = fs::openat_in_root(rootfd, full, O_PATH); fd >= 0) return Fd(fd);
        if (errno == ENOENT && comps.size() > 1) {
            Fd pdir(fs::openat_in_root(rootfd, up, O_PATH | O_DIRECTORY));
            if (pdir) {
                // The leaf is one component created (or opened) relative to a parent resolved
                // in-root, never followed if a link: what we get is the target itself.
                Fd t = create_leaf(pdir.get(), leaf, dir);
                int err = errno;
                if (cache) {
                    cache->path = up;
                    cache->fd = std::move(pdir);
                    cache->target_in_it = static_cast<bool>(t);
                }
                if (t) return t;
                if (err == EEXIST) // created meanwhile: open it in-root like any target
                    if (int fd = fs::openat_in_root(rootfd, full, O_PATH); fd >= 0) return Fd(fd);
            }
        }
    }
    std::string prefix;
    Fd parent(::fcntl(rootfd, F_DUPFD_CLOEXEC, 0));
    for (size_t i = 0; i < comps.size(); ++i) {
        prefix += (prefix.empty() ? "" : "/") + comps[i];
        bool last = i + 1 == comps.size();
        int fd = fs::openat_in_root(rootfd, prefix, O_PATH);
        if (fd < 0 && errno == ENOENT) {
            char link[4096];
            ssize_t n = ::readlinkat(parent.get(), comps[i].c_str(), link, sizeof link - 1);
            if (n > 0) { // a dangling link: the target is made where it leads, in-root
                if (links >= 40)
                    fail(Errc::run_failed,
                         std::string(what) + " " + dest + " leads through more than 40 links",
                         "point the image's links somewhere, or mount elsewhere");
                return ensure_target_in(rootfd, through_link(comps, i, std::string(link, n)), dir,
                                        nullptr, what, links + 1);
            }
            if (!last || dir) {
                if (::mkdirat(parent.get(), comps[i].c_str(), 0755) != 0 && errno != EEXIST)
                    fail_errno(std::string("cannot create ") + what + " " + dest, ro_hint());
            } else {
                int f = ::openat(parent.get(), comps[i].c_str(),
                                 O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (f < 0 && errno != EEXIST)
                    fail_errno(std::string("cannot create ") + what + " " + dest, ro_hint());
                if (f >= 0) ::close(f);
            }
            fd = fs::openat_in_root(rootfd, prefix, O_PATH);
        }
        if (fd < 0)
            fail_errno(std::string("cannot open ") + what + " " + dest + " inside the container");
        parent.reset(fd);
    }
    return parent;
}

} // namespace

Fd clone_tree(int dirfd, const char* path, bool recursive) {
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0) |
                     (*path ? 0 : AT_EMPTY_PATH);
    return Fd(static_cast<int>(::syscall(SYS_open_tree, dirfd, path, flags)));
}

bool set_mount_attr(int tree, unsigned long attr, bool recursive) {
    struct mount_attr a {};
    a.attr_set = attr;
    return ::syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0),
                     &a, sizeof a) == 0;
}

bool move_tree(int tree, int target) {
    return ::syscall(SYS_move_mount, tree, "", target, "",
                     MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) == 0;
}

// Creates link -> target inside the root (fd-relative, in-root), replacing a file or link that
// is there (an image's own stub libcuda.so.1, say) but never a directory.
void make_symlink_in_root(int rootfd, const std::string& link, const std::string& target) {
    auto slash = link.rfind('/');
    std::string dir = link.substr(0, slash), base = link.substr(slash + 1);
    Fd parent = ensure_target(rootfd, dir.empty() ? "/" : dir, true);
    struct stat st {};
    if (::fstatat(parent.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode))
            fail(Errc::run_failed, "cannot create " + link + ": a directory is in the way");
        if (::unlinkat(parent.get(), base.c_str(), 0) != 0) fail_errno("cannot replace " + link);
    }
    if (::symlinkat(target.c_str(), parent.get(), base.c_str()) != 0)
        fail_errno("cannot create symlink " + link);
}

// Writes a small file inside a root (fd-relative, in-root), replacing a file that is there.
void write_file_in_root(int rootfd, const std::string& path, const std::string& content) {
    auto slash = path.rfind('/');
    Fd dir =
        ensure_target(rootfd, path.substr(0, slash).empty() ? "/" : path.substr(0, slash), true);
    std::string base = path.substr(slash + 1);
    ::unlinkat(dir.get(), base.c_str(), 0);
    Fd f(::openat(dir.get(), base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0644));
    if (!f) fail_errno("cannot write " + path);
    fs::write_all(f.get(), content.data(), content.size(), path);
}

int tmpfs_mode(int rootfd, const std::string& dest, const std::string& data) {
    if (("," + data).find(",mode=") != std::string::npos) return -1;
    Fd dir(fs::openat_in_root(rootfd, dest, O_PATH | O_DIRECTORY));
    struct stat st {};
    if (!dir || ::fstat(dir.get(), &st) != 0) return -1;
    return static_cast<int>(st.st_mode & 07777);
}

void finish_tmpfs(int target, const std::string& dest, int mode, bool readonly) {
    if (mode < 0 && !readonly) return;
    // the new tmpfs's root, reached from the covered directory's parent by its name: TARGET is
    // the directory under the mount, and DEST resolved again may lead elsewhere (through a link
    // to a directory the mount now covers: /data/up -> /data)
    char buf[4096];
    ssize_t n = ::readlink(fd_path(target).c_str(), buf, sizeof buf - 1);
    std::string path(buf, n > 0 ? std::size_t(n) : 0);
    auto slash = path.rfind('/');
    Fd parent(::openat(target, "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
    Fd top;
    if (n > 0 && slash != std::string::npos && slash + 1 < path.size() && parent)
        top.reset(::openat(parent.get(), path.c_str() + slash + 1,
                           O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!top || (mode >= 0 && ::fchmod(top.get(), static_cast<mode_t>(mode)) != 0))
        fail_errno("cannot give the tmpfs on " + dest + " its directory's mode");
    if (readonly && !set_mount_attr(top.get(), MOUNT_ATTR_RDONLY, false))
        fail_errno("cannot make the tmpfs on " + dest + " read-only");
}

} // namespace gantry::runtime::detail
