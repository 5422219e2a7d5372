#include "sqsh/server.hpp"

#include "sqsh/api.hpp"
#include "util/error.hpp"

#include <cerrno>
#include <cstring>
#include <sys/stat.h>

namespace gantry::sqsh {

namespace {

// The image never changes while it is mounted: the kernel may cache everything.
constexpr double kTimeout = 86400.0;

std::uint32_t view(const std::vector<oci::IdMapping>& maps, std::uint32_t id) {
    if (maps.empty()) return id;
    for (auto& m : maps)
        if (id >= m.container_id && id - m.container_id < m.size) return id;
    return 0;
}

} // namespace

std::uint32_t IdView::uid(std::uint32_t id) const {
    return view(uids, id);
}
std::uint32_t IdView::gid(std::uint32_t id) const {
    return view(gids, id);
}

struct Server::State {
    std::shared_ptr<Image> image;
    IdView ids;
    Fd dev;
    fuse_session* se = nullptr;
};

namespace {

const IdView& ids_of(sqfs_ll* ll) {
    return static_cast<Server::State*>(Image::context(ll))->ids; // NOLINT
}

void fix(struct stat& st, sqfs_ll* ll) {
    const IdView& v = ids_of(ll);
    st.st_uid = v.uid(st.st_uid);
    st.st_gid = v.gid(st.st_gid);
}

// squashfuse's getattr and lookup, with the owners the container can see.
void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    const Api& a = api();
    sqfs_ll_i lli;
    if (a.ll_iget(req, &lli, ino) != SQFS_OK) return; // it replied ENOENT
    struct stat st {};
    if (a.stat(&lli.ll->fs, &lli.inode, &st) != SQFS_OK) {
        a.reply_err(req, ENOENT);
        return;
    }
    st.st_ino = ino;
    fix(st, lli.ll);
    a.reply_attr(req, &st, kTimeout);
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    const Api& a = api();
    sqfs_ll_i lli;
    if (a.ll_iget(req, &lli, parent) != SQFS_OK) return;
    if (!S_ISDIR(lli.inode.base.mode)) {
        a.reply_err(req, ENOTDIR);
        return;
    }
    sqfs_name namebuf;
    sqfs_dir_entry entry;
    a.dentry_init(&entry, namebuf);
    bool found = false;
    if (a.dir_lookup(&lli.ll->fs, &lli.inode, name, std::strlen(name), &entry, &found) != SQFS_OK) {
        a.reply_err(req, EIO);
        return;
    }
    if (!found) {
        a.reply_err(req, ENOENT);
        return;
    }
    sqfs_inode inode;
    if (a.inode_get(&lli.ll->fs, &inode, a.dentry_inode(&entry)) != SQFS_OK) {
        a.reply_err(req, EIO);
        return;
    }
    fuse_entry_param e{};
    if (a.stat(&lli.ll->fs, &inode, &e.attr) != SQFS_OK) {
        a.reply_err(req, EIO);
        return;
    }
    e.attr_timeout = e.entry_timeout = kTimeout;
    e.ino = lli.ll->ino_register(lli.ll, &entry);
    e.attr.st_ino = e.ino;
    fix(e.attr, lli.ll);
    a.reply_entry(req, &e);
}

} // namespace

Server::Server(std::shared_ptr<Image> image, IdView ids) : st_(std::make_shared<State>()) {
    api(); // the libraries load here, before any container process exists
    st_->image = std::move(image);
    st_->ids = std::move(ids);
    st_->image->set_context(st_.get());
}

Server::~Server() {
    if (st_->se) api().session_exit(st_->se);
}

std::string Server::mount_options(int fd) {
    // default_permissions: the kernel checks modes and owners (the server does not);
    // allow_other: every user of the container, not only its root, may use the mount.
    return "fd=" + std::to_string(fd) +
           ",rootmode=40000,user_id=0,group_id=0,default_permissions,allow_other";
}

void Server::serve(Fd dev) {
    const Api& a = api();
    fuse_lowlevel_ops ops{};
    ops.lookup = op_lookup;
    ops.getattr = op_getattr;
    ops.forget = a.op_forget;
    ops.opendir = a.op_opendir;
    ops.releasedir = a.op_releasedir;
    ops.readdir = a.op_readdir;
    ops.open = a.op_open;
    ops.release = a.op_release;
    ops.read = a.op_read;
    ops.readlink = a.op_readlink;
    ops.listxattr = a.op_listxattr;
    ops.getxattr = a.op_getxattr;
    ops.statfs = a.op_statfs;
    char arg0[] = "gantry";
    char* argv[] = {arg0, nullptr};
    fuse_args args = FUSE_ARGS_INIT(1, argv);
    st_->se = a.session_new(&args, &ops, sizeof ops, st_->image->ll());
    if (!st_->se) throw Error(Errc::run_failed, "cannot start serving the squashfs image");
    st_->dev = std::move(dev);
    std::string mp = "/dev/fd/" + std::to_string(st_->dev.get());
    if (a.session_mount(st_->se, mp.c_str()) != 0)
        throw Error(Errc::run_failed, "cannot serve the squashfs image on its FUSE descriptor");
    // The loop owns a reference to the state: it may outlive this object (its threads end with
    // the connection or with the process).
    std::thread([st = st_] {
        LoopConfig32 cfg{0, 10};
        api().session_loop_mt(st->se, &cfg);
    }).detach();
}

} // namespace gantry::sqsh
