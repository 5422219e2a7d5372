#include "sqsh/server.hpp"

#include "sqsh/api.hpp"
#include "util/error.hpp"

#include <cerrno>
#include <cstring>
#include <mutex>
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

// Debian's libsquashfuse 0.1.105 shares its block caches between threads without locks: two
// concurrent reads crashed in sqfs_block_read (seen here on the first run, exec of a 2 MB
// binary). So the library's work is done one request at a time, and one thread serves them:
// libfuse's multi-threaded loop with this lock read 60,000 files in 7.8-11.6 s, the
// single-threaded loop in 3.2-3.4 s (caches dropped, alternated; docs/sqsh.md). The lock stays:
// it costs nothing uncontended and keeps the server safe if a loop with threads comes back.
std::mutex library_lock;

// squashfuse's getattr and lookup, with the owners the container can see.
void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    std::lock_guard hold(library_lock);
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
    std::lock_guard hold(library_lock);
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

// The library's other operations, under the lock.
void op_forget(fuse_req_t r, fuse_ino_t i, uint64_t n) {
    std::lock_guard hold(library_lock);
    api().op_forget(r, i, n);
}
void op_opendir(fuse_req_t r, fuse_ino_t i, fuse_file_info* f) {
    std::lock_guard hold(library_lock);
    api().op_opendir(r, i, f);
}
void op_releasedir(fuse_req_t r, fuse_ino_t i, fuse_file_info* f) {
    std::lock_guard hold(library_lock);
    api().op_releasedir(r, i, f);
}
void op_readdir(fuse_req_t r, fuse_ino_t i, size_t s, off_t o, fuse_file_info* f) {
    std::lock_guard hold(library_lock);
    api().op_readdir(r, i, s, o, f);
}
void op_open(fuse_req_t r, fuse_ino_t i, fuse_file_info* f) {
    std::lock_guard hold(library_lock);
    api().op_open(r, i, f);
}
void op_release(fuse_req_t r, fuse_ino_t i, fuse_file_info* f) {
    std::lock_guard hold(library_lock);
    api().op_release(r, i, f);
}
void op_read(fuse_req_t r, fuse_ino_t i, size_t s, off_t o, fuse_file_info* f) {
    std::lock_guard hold(library_lock);
    api().op_read(r, i, s, o, f);
}
void op_readlink(fuse_req_t r, fuse_ino_t i) {
    std::lock_guard hold(library_lock);
    api().op_readlink(r, i);
}
void op_listxattr(fuse_req_t r, fuse_ino_t i, size_t s) {
    std::lock_guard hold(library_lock);
    api().op_listxattr(r, i, s);
}
void op_getxattr(fuse_req_t r, fuse_ino_t i, const char* n, size_t s) {
    std::lock_guard hold(library_lock);
    api().op_getxattr(r, i, n, s);
}
void op_statfs(fuse_req_t r, fuse_ino_t i) {
    std::lock_guard hold(library_lock);
    api().op_statfs(r, i);
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
    ops.forget = op_forget;
    ops.opendir = op_opendir;
    ops.releasedir = op_releasedir;
    ops.readdir = op_readdir;
    ops.open = op_open;
    ops.release = op_release;
    ops.read = op_read;
    ops.readlink = op_readlink;
    ops.listxattr = op_listxattr;
    ops.getxattr = op_getxattr;
    ops.statfs = op_statfs;
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
    std::thread([st = st_] { api().session_loop(st->se); }).detach();
}

} // namespace gantry::sqsh
