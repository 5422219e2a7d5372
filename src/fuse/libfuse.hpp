// libfuse3's low-level API as gantry's FUSE server (server.cpp) calls it: the functions it uses,
// bound by dlopen on first use (util/library.hpp), so that gantry starts without libfuse3 and a
// run that needs it is refused naming the package to install (libfuse3-3), or the tools that
// unpack a squashfs image instead.
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse3/fuse_lowlevel.h>

namespace gantry::fuse {

// The libfuse3 functions the server calls.
struct Fuse {
    decltype(&::fuse_session_new) session_new;
    decltype(&::fuse_session_mount) session_mount;
    decltype(&::fuse_session_receive_buf) receive_buf;
    decltype(&::fuse_session_process_buf) process_buf;
    decltype(&::fuse_session_exited) session_exited;
    decltype(&::fuse_session_exit) session_exit;
    decltype(&::fuse_session_fd) session_fd;
    decltype(&::fuse_reply_err) reply_err;
    decltype(&::fuse_reply_none) reply_none;
    decltype(&::fuse_reply_attr) reply_attr;
    decltype(&::fuse_reply_entry) reply_entry;
    decltype(&::fuse_reply_open) reply_open;
    decltype(&::fuse_reply_buf) reply_buf;
    decltype(&::fuse_reply_readlink) reply_readlink;
    decltype(&::fuse_reply_xattr) reply_xattr;
    decltype(&::fuse_reply_statfs) reply_statfs;
    decltype(&::fuse_add_direntry) add_direntry;
    decltype(&::fuse_req_userdata) req_userdata;
};

// The functions, bound at the first call; throws Error naming libfuse3-3 where it is missing.
const Fuse& fuse();

} // namespace gantry::fuse
