// sqsh/api: the functions of libsquashfuse_ll and libfuse3 gantry calls, as pointers bound by
// dlopen (squashfuse.cpp). Internal to sqsh/: only its .cpp files include the C headers.
#pragma once

extern "C" {
#include <squashfuse/ll.h> // defines FUSE_USE_VERSION 32 (its config.h) and includes libfuse3's
// Exported by libsquashfuse_ll but declared in no installed header (squashfuse's stat.h).
sqfs_err sqfs_stat(sqfs* fs, sqfs_inode* inode, struct stat* st);
}

namespace gantry::sqsh {

struct Api {
    // the squashfs reader
    decltype(&::sqfs_init) init;
    decltype(&::sqfs_destroy) destroy;
    decltype(&::sqfs_inode_get) inode_get;
    decltype(&::sqfs_xattr_lookup) xattr_lookup;
    decltype(&::sqfs_lookup_path) lookup_path;
    decltype(&::sqfs_read_range) read_range;
    decltype(&::sqfs_stat) stat;
    decltype(&::sqfs_dentry_init) dentry_init;
    decltype(&::sqfs_dentry_inode) dentry_inode;
    decltype(&::sqfs_dir_lookup) dir_lookup;
    decltype(&::sqfs_dir_open) dir_open;
    decltype(&::sqfs_dir_next) dir_next;
    decltype(&::sqfs_dentry_name) dentry_name;
    // the low-level FUSE operations
    decltype(&::sqfs_ll_init) ll_init;
    decltype(&::sqfs_ll_destroy) ll_destroy;
    decltype(&::sqfs_ll_iget) ll_iget;
    decltype(&::sqfs_ll_op_opendir) op_opendir;
    decltype(&::sqfs_ll_op_releasedir) op_releasedir;
    decltype(&::sqfs_ll_op_readdir) op_readdir;
    decltype(&::sqfs_ll_op_open) op_open;
    decltype(&::sqfs_ll_op_release) op_release;
    decltype(&::sqfs_ll_op_read) op_read;
    decltype(&::sqfs_ll_op_readlink) op_readlink;
    decltype(&::sqfs_ll_op_listxattr) op_listxattr;
    decltype(&::sqfs_ll_op_getxattr) op_getxattr;
    decltype(&::sqfs_ll_op_forget) op_forget;
    decltype(&::stfs_ll_op_statfs) op_statfs;
    // libfuse3
    decltype(&::fuse_session_new) session_new;
    decltype(&::fuse_session_mount) session_mount;
    decltype(&::fuse_session_loop) session_loop;
    decltype(&::fuse_session_exit) session_exit;
    decltype(&::fuse_session_destroy) session_destroy;
    decltype(&::fuse_reply_err) reply_err;
    decltype(&::fuse_reply_attr) reply_attr;
    decltype(&::fuse_reply_entry) reply_entry;
    decltype(&::fuse_req_userdata) req_userdata;
};

} // namespace gantry::sqsh
