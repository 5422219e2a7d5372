#include "sqsh/squashfuse.hpp"

#include "sqsh/api.hpp"
#include "util/error.hpp"
#include "util/library.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::sqsh {

namespace {

Api load() {
    const char* hint = "install libsquashfuse0 and libfuse3-3 (apt-get install libsquashfuse0 "
                       "libfuse3-3), or unpack the image with unsquashfs";
    static Library fuse("libfuse3.so.3", "squashfs images need libfuse3", hint);
    static Library sq("libsquashfuse_ll.so.0", "squashfs images need libsquashfuse_ll", hint);
    Api a{};
    sq.bind(a.init, "sqfs_init");
    sq.bind(a.destroy, "sqfs_destroy");
    sq.bind(a.inode_get, "sqfs_inode_get");
    sq.bind(a.xattr_lookup, "sqfs_xattr_lookup");
    sq.bind(a.lookup_path, "sqfs_lookup_path");
    sq.bind(a.read_range, "sqfs_read_range");
    sq.bind(a.stat, "sqfs_stat");
    sq.bind(a.dentry_init, "sqfs_dentry_init");
    sq.bind(a.dentry_inode, "sqfs_dentry_inode");
    sq.bind(a.dir_lookup, "sqfs_dir_lookup");
    sq.bind(a.dir_open, "sqfs_dir_open");
    sq.bind(a.dir_next, "sqfs_dir_next");
    sq.bind(a.dentry_name, "sqfs_dentry_name");
    sq.bind(a.ll_init, "sqfs_ll_init");
    sq.bind(a.ll_destroy, "sqfs_ll_destroy");
    sq.bind(a.ll_iget, "sqfs_ll_iget");
    sq.bind(a.op_opendir, "sqfs_ll_op_opendir");
    sq.bind(a.op_releasedir, "sqfs_ll_op_releasedir");
    sq.bind(a.op_readdir, "sqfs_ll_op_readdir");
    sq.bind(a.op_open, "sqfs_ll_op_open");
    sq.bind(a.op_release, "sqfs_ll_op_release");
    sq.bind(a.op_read, "sqfs_ll_op_read");
    sq.bind(a.op_readlink, "sqfs_ll_op_readlink");
    sq.bind(a.op_listxattr, "sqfs_ll_op_listxattr");
    sq.bind(a.op_getxattr, "sqfs_ll_op_getxattr");
    sq.bind(a.op_forget, "sqfs_ll_op_forget");
    sq.bind(a.op_statfs, "stfs_ll_op_statfs");
    fuse.bind(a.session_new, "fuse_session_new");
    fuse.bind(a.session_mount, "fuse_session_mount");
    fuse.bind(a.session_loop, "fuse_session_loop");
    fuse.bind(a.session_exit, "fuse_session_exit");
    fuse.bind(a.session_destroy, "fuse_session_destroy");
    fuse.bind(a.reply_err, "fuse_reply_err");
    fuse.bind(a.reply_attr, "fuse_reply_attr");
    fuse.bind(a.reply_entry, "fuse_reply_entry");
    fuse.bind(a.req_userdata, "fuse_req_userdata");
    return a;
}

// The sqfs_ll the library uses, and the server's context after it (same allocation).
struct LlBlock {
    sqfs_ll ll;
    void* context;
};

[[noreturn]] void unreadable(const std::string& path, const std::string& what) {
    throw Error(Errc::invalid, path + ": cannot read " + what + " (damaged squashfs image)",
                "check the file with `unsquashfs -l " + path + "`");
}

} // namespace

const Api& api() {
    static const Api a = load();
    return a;
}

Image::Image(const std::string& path) : path_(path) {
    fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd_) throw_errno("cannot open " + path);
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) throw_errno("cannot stat " + path);
    if (!S_ISREG(st.st_mode))
        throw Error(Errc::invalid, path + " is not a regular file",
                    "give the path of a .sqsh file");
    char head[kSuperblockSize] = {};
    ssize_t n = ::pread(fd_.get(), head, sizeof head, 0);
    if (n < 0) throw_errno("cannot read " + path);
    sb_ = check_superblock(std::string_view(head, static_cast<std::size_t>(n)),
                           static_cast<std::uint64_t>(st.st_size), path);
    const Api& a = api();
    auto* block = static_cast<LlBlock*>(std::calloc(1, sizeof(LlBlock)));
    if (!block) throw Error(Errc::internal, "out of memory");
    ll_ = &block->ll; // first member: freeing ll_ frees the block
    if (a.init(&ll_->fs, fd_.get(), 0) != SQFS_OK) {
        std::free(ll_);
        ll_ = nullptr;
        throw Error(Errc::invalid, path + " is not a squashfs image libsquashfuse can read",
                    "check the file with `unsquashfs -s " + path + "`");
    }
    if (a.ll_init(ll_) != SQFS_OK) {
        a.destroy(&ll_->fs);
        std::free(ll_);
        ll_ = nullptr;
        throw Error(Errc::internal, path + ": cannot set up the squashfs inode map");
    }
}

Image::~Image() {
    if (ll_) {
        api().ll_destroy(ll_); // sqfs_destroy included; it does not close our descriptor
        std::free(ll_);
    }
}

sqfs* Image::fs() {
    return &ll_->fs;
}

void Image::set_context(void* c) {
    reinterpret_cast<LlBlock*>(ll_)->context = c;
}

void* Image::context(sqfs_ll* ll) {
    return reinterpret_cast<LlBlock*>(ll)->context;
}

std::optional<std::string> Image::root_xattr(const char* name, std::size_t max) {
    const Api& a = api();
    sqfs_inode root;
    if (a.inode_get(fs(), &root, ll_->fs.sb.root_inode) != SQFS_OK)
        unreadable(path_, "the root directory");
    std::size_t size = 0;
    if (a.xattr_lookup(fs(), &root, name, nullptr, &size) != SQFS_OK)
        unreadable(path_, std::string("the root's xattr ") + name);
    if (size == 0) return std::nullopt;
    if (size > max)
        throw Error(Errc::invalid,
                    path_ + ": the root's xattr " + name + " is larger than " +
                        std::to_string(max) + " bytes",
                    "write the file again with `gantry save --format squashfs`");
    std::string v(size, '\0');
    std::size_t got = size;
    if (a.xattr_lookup(fs(), &root, name, v.data(), &got) != SQFS_OK || got != size)
        unreadable(path_, std::string("the root's xattr ") + name);
    return v;
}

bool Image::lookup(const std::string& path, sqfs_inode& in) {
    const Api& a = api();
    if (a.inode_get(fs(), &in, ll_->fs.sb.root_inode) != SQFS_OK)
        unreadable(path_, "the root directory");
    bool found = false;
    if (a.lookup_path(fs(), &in, path.c_str(), &found) != SQFS_OK) unreadable(path_, path);
    return found;
}

std::optional<std::string> Image::read_file(const std::string& path, std::size_t max) {
    const Api& a = api();
    sqfs_inode in;
    bool found = lookup(path, in);
    if (!found || !S_ISREG(in.base.mode)) return std::nullopt;
    auto size = in.xtra.reg.file_size;
    if (size > max)
        throw Error(Errc::invalid,
                    path_ + ": /" + path + " is larger than " + std::to_string(max) + " bytes");
    std::string out(size, '\0');
    sqfs_off_t n = static_cast<sqfs_off_t>(size);
    if (size && (a.read_range(fs(), &in, 0, &n, out.data()) != SQFS_OK ||
                 n != static_cast<sqfs_off_t>(size)))
        unreadable(path_, "/" + path);
    return out;
}

std::optional<mode_t> Image::mode_of(const std::string& path) {
    sqfs_inode in;
    if (!lookup(path, in)) return std::nullopt;
    return static_cast<mode_t>(in.base.mode);
}

std::vector<std::string> Image::list_dir(const std::string& path) {
    const Api& a = api();
    sqfs_inode in;
    bool found = lookup(path, in);
    std::vector<std::string> out;
    if (!found || !S_ISDIR(in.base.mode)) return out;
    sqfs_dir dir;
    if (a.dir_open(fs(), &in, &dir, 0) != SQFS_OK) unreadable(path_, "/" + path);
    sqfs_dir_entry entry;
    std::string name(SQUASHFS_NAME_LEN + 1, '\0');
    a.dentry_init(&entry, name.data());
    sqfs_err err = SQFS_OK;
    while (a.dir_next(fs(), &dir, &entry, &err)) {
        out.emplace_back(a.dentry_name(&entry));
        if (out.size() > (1u << 20)) break; // a hostile directory: enough for any caller
    }
    if (err != SQFS_OK) unreadable(path_, "/" + path);
    return out;
}

std::optional<Header> Image::header() {
    auto v = root_xattr(kHeaderXattr, kMaxHeader);
    if (!v) return std::nullopt;
    return parse_header(*v, path_);
}

} // namespace gantry::sqsh
