// Working inside a container's root that the image controls: every path is hostile. Mount
// targets are opened (and created when missing) in-root and fd-relative, so no component can
// lead outside whatever symlinks the image planted; mounts are made through descriptors with
// the new mount API (nothing resolved twice, nothing through /proc); small files and links
// are written relative to a parent resolved in-root. Failures throw ChildFail: this runs in
// the container's child, or in a hook's.
#pragma once

#include "util/fd.hpp"

#include <string>

namespace gantry::runtime::detail {

// "/proc/self/fd/N": a path that names what descriptor FD refers to, for mount(2).
std::string fd_path(int fd);

// The directory in which ensure_target last had to create a target, kept open: the next
// missing targets there (/dev/null, /dev/zero, ...) are created relative to it, one call
// each. A mount can hide what the descriptor sees (a mount on the directory itself, on an
// ancestor, or on a link that leads to either): the caller reports every mount it makes with
// mounted(), which keeps the directory only when the target was an entry ensure_target had just
// created (or found, never through a link) in it.
struct TargetDir {
    std::string path; // in-root, without the leading "/"
    Fd fd;
    bool target_in_it = false; // the last target returned is an entry of this directory
    void mounted();
};

// Opens (creating if missing) `dest` inside the root, fd-relative and in-root.
// WHAT names DEST in errors. A target that cannot be created on a read-only root is EROFS.
Fd ensure_target(int rootfd, const std::string& dest, bool dir, TargetDir* cache = nullptr,
                 const char* what = "mount point");

// A tmpfs as runc mounts it: writable, given the mode of its directory already in the root,
// then read-only per mount. tmpfs_mode (before the target is made): that mode, or -1 where
// the root has no such directory or the mount's DATA has a mode= of its own (crun's; runc
// 1.1.5 chmods over it). finish_tmpfs (once mounted on TARGET, the directory's fd): the chmod and
// the read-only flag, on the new tmpfs's root.
int tmpfs_mode(int rootfd, const std::string& dest, const std::string& data);
void finish_tmpfs(int target, const std::string& dest, int mode, bool readonly);

// The new mount API, errors left to the caller (errno): a detached copy of the mount tree at
// PATH (relative to DIRFD; "" for DIRFD itself), configured with set_mount_attr and placed on
// TARGET with move_tree. Nothing is resolved twice, nothing goes through /proc.
Fd clone_tree(int dirfd, const char* path, bool recursive);
bool set_mount_attr(int tree, unsigned long attr, bool recursive);
bool move_tree(int tree, int target);

// Creates link -> target inside the root, replacing a file or link there (never a directory).
void make_symlink_in_root(int rootfd, const std::string& link, const std::string& target);
// Writes a small file inside the root, replacing a file there.
void write_file_in_root(int rootfd, const std::string& path, const std::string& content);

} // namespace gantry::runtime::detail
