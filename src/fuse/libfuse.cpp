#include "fuse/libfuse.hpp"

#include "util/library.hpp"

namespace gantry::fuse {

namespace {

Fuse load_fuse() {
    static Library lib("libfuse3.so.3", "squashfs images need libfuse3",
                       "install libfuse3-3 (apt-get install libfuse3-3), or unpack the image "
                       "with sqfs2tar or unsquashfs");
    Fuse f{};
    lib.bind(f.session_new, "fuse_session_new");
    lib.bind(f.session_mount, "fuse_session_mount");
    lib.bind(f.receive_buf, "fuse_session_receive_buf");
    lib.bind(f.process_buf, "fuse_session_process_buf");
    lib.bind(f.session_exited, "fuse_session_exited");
    lib.bind(f.session_exit, "fuse_session_exit");
    lib.bind(f.session_fd, "fuse_session_fd");
    lib.bind(f.reply_err, "fuse_reply_err");
    lib.bind(f.reply_none, "fuse_reply_none");
    lib.bind(f.reply_attr, "fuse_reply_attr");
    lib.bind(f.reply_entry, "fuse_reply_entry");
    lib.bind(f.reply_open, "fuse_reply_open");
    lib.bind(f.reply_buf, "fuse_reply_buf");
    lib.bind(f.reply_readlink, "fuse_reply_readlink");
    lib.bind(f.reply_xattr, "fuse_reply_xattr");
    lib.bind(f.reply_statfs, "fuse_reply_statfs");
    lib.bind(f.add_direntry, "fuse_add_direntry");
    lib.bind(f.req_userdata, "fuse_req_userdata");
    return f;
}

} // namespace

const Fuse& fuse() {
    static const Fuse f = load_fuse();
    return f;
}

} // namespace gantry::fuse
