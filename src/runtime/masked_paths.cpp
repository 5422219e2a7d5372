// linux.maskedPaths and readonlyPaths (mounts.hpp's mask_paths), in the container's root before
// pivot_root, as runc masks them: an empty read-only tmpfs on a directory (one, cloned for the
// others), /dev/null on a file, a read-only bind of a path onto itself.
#include "runtime/child_failure.hpp"
#include "runtime/in_root.hpp"
#include "runtime/mounts.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>

namespace gantry::runtime::detail {

void mask_paths(int rootfd, const oci::RuntimeSpec& s) {
    Fd empty; // the first masked directory's empty read-only tmpfs, cloned for the others
    for (auto& p : s.masked_paths) {
        Fd fd(fs::openat_in_root(rootfd, p, O_PATH | O_NOFOLLOW));
        if (!fd) continue;
        struct stat st {};
        ::fstat(fd.get(), &st);
        if (S_ISDIR(st.st_mode) && !empty) {
            if (::mount("tmpfs", fd_path(fd.get()).c_str(), "tmpfs",
                        MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0") != 0)
                fail_errno("cannot mask " + p);
            empty.reset(fs::openat_in_root(rootfd, p, O_PATH | O_NOFOLLOW));
            continue;
        }
        Fd tree = S_ISDIR(st.st_mode) ? clone_tree(empty.get(), "", false)
                                      : clone_tree(AT_FDCWD, "/dev/null", false);
        if (!tree) fail_errno("cannot mask " + p);
        if (!move_tree(tree.get(), fd.get())) fail_errno("cannot mount on " + p);
    }
    for (auto& p : s.readonly_paths) {
        Fd fd(fs::openat_in_root(rootfd, p, O_PATH | O_NOFOLLOW));
        if (!fd) continue;
        Fd tree = clone_tree(fd.get(), "", true);
        if (!tree) fail_errno("cannot make " + p + " read-only");
        if (!set_mount_attr(tree.get(), MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                            true))
            fail_errno("cannot set mount flags on " + p);
        if (!move_tree(tree.get(), fd.get())) fail_errno("cannot mount on " + p);
    }
}

} // namespace gantry::runtime::detail
