#include "sqsh/image.hpp"

#include "sqsh/image_tables.hpp"
#include "sqsh/libsquashfs.hpp"
#include "util/error.hpp"
#include "util/library.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace gantry::sqsh {

namespace {

Sqfs load() {
    static Library lib("libsquashfs.so.1", "squashfs images need libsquashfs",
                       "install libsquashfs1 (apt-get install libsquashfs1), or unpack the "
                       "image with sqfs2tar or unsquashfs");
    Sqfs s{};
    lib.bind(s.super_read, "sqfs_super_read");
    lib.bind(s.compressor_config_init, "sqfs_compressor_config_init");
    lib.bind(s.compressor_create, "sqfs_compressor_create");
    lib.bind(s.id_table_create, "sqfs_id_table_create");
    lib.bind(s.id_table_read, "sqfs_id_table_read");
    lib.bind(s.id_table_index_to_id, "sqfs_id_table_index_to_id");
    lib.bind(s.meta_reader_create, "sqfs_meta_reader_create");
    lib.bind(s.meta_reader_read_inode, "sqfs_meta_reader_read_inode");
    lib.bind(s.meta_reader_seek, "sqfs_meta_reader_seek");
    lib.bind(s.meta_reader_read, "sqfs_meta_reader_read");
    lib.bind(s.meta_reader_get_position, "sqfs_meta_reader_get_position");
    lib.bind(s.readdir_state_init, "sqfs_readdir_state_init");
    lib.bind(s.meta_reader_readdir, "sqfs_meta_reader_readdir");
    lib.bind(s.data_reader_create, "sqfs_data_reader_create");
    lib.bind(s.data_reader_load_fragment_table, "sqfs_data_reader_load_fragment_table");
    lib.bind(s.data_reader_read, "sqfs_data_reader_read");
    lib.bind(s.xattr_reader_create, "sqfs_xattr_reader_create");
    lib.bind(s.xattr_reader_load, "sqfs_xattr_reader_load");
    lib.bind(s.xattr_reader_get_desc, "sqfs_xattr_reader_get_desc");
    lib.bind(s.inode_get_xattr_index, "sqfs_inode_get_xattr_index");
    lib.bind(s.free, "sqfs_free");
    return s;
}

struct SqfsFree {
    void operator()(void* p) const { sqfs().free(p); }
};
template <class T>
using Freed = std::unique_ptr<T, SqfsFree>;

const char* describe(int err) {
    switch (err) {
    case SQFS_ERROR_ALLOC:
        return "out of memory";
    case SQFS_ERROR_IO:
        return "read error";
    case SQFS_ERROR_COMPRESSOR:
        return "a block does not decompress";
    case SQFS_ERROR_CORRUPTED:
        return "corrupted";
    case SQFS_ERROR_UNSUPPORTED:
        return "unsupported";
    case SQFS_ERROR_OVERFLOW:
        return "a size overflows";
    case SQFS_ERROR_OUT_OF_BOUNDS:
        return "a reference points outside its table or the file";
    case SQFS_ERROR_SUPER_BLOCK_SIZE:
        return "bad block size";
    case SQFS_ERROR_NOT_DIR:
        return "not a directory";
    case SQFS_ERROR_NO_ENTRY:
        return "no such entry";
    case SQFS_ERROR_LINK_LOOP:
        return "a loop";
    case SQFS_ERROR_NOT_FILE:
        return "not a regular file";
    default:
        return "damaged";
    }
}

// A name a directory may hold: 1..256 bytes, no '/', no NUL, not "." or "..".
bool usable_name(std::string_view n) {
    return !n.empty() && n.size() <= 256 && n != "." && n != ".." &&
           n.find_first_of(std::string_view("/\0", 2)) == std::string_view::npos;
}

} // namespace

using namespace image_parts;

const Sqfs& sqfs() {
    static const Sqfs s = load();
    return s;
}

void InodeFree::operator()(sqfs_inode_generic_t* p) const {
    if (p) sqfs().free(p);
}

mode_t file_type(unsigned type) {
    switch (type) {
    case SQFS_INODE_DIR:
    case SQFS_INODE_EXT_DIR:
        return S_IFDIR;
    case SQFS_INODE_FILE:
    case SQFS_INODE_EXT_FILE:
        return S_IFREG;
    case SQFS_INODE_SLINK:
    case SQFS_INODE_EXT_SLINK:
        return S_IFLNK;
    case SQFS_INODE_BDEV:
    case SQFS_INODE_EXT_BDEV:
        return S_IFBLK;
    case SQFS_INODE_CDEV:
    case SQFS_INODE_EXT_CDEV:
        return S_IFCHR;
    case SQFS_INODE_FIFO:
    case SQFS_INODE_EXT_FIFO:
        return S_IFIFO;
    case SQFS_INODE_SOCKET:
    case SQFS_INODE_EXT_SOCKET:
        return S_IFSOCK;
    default:
        return 0;
    }
}

mode_t file_type(const sqfs_inode_generic_t& in) {
    return file_type(in.base.type);
}

Image::Image(const std::string& path) : path_(path) {
    fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd_) throw_errno("cannot open " + path);
    open_tables();
}

Image::Image(Fd fd, const std::string& path) : path_(path), fd_(std::move(fd)) {
    open_tables();
}

Image::Image(Fd fd, const std::string& path, Deferred) : path_(path), fd_(std::move(fd)) {
    sqfs(); // the library loads here: a confined process cannot open it
}

Image::Tables& Image::tables() {
    if (!t_) open_tables();
    return *t_;
}

Image::~Image() = default;

void Image::damaged(const std::string& what, int err) const {
    throw Error(Errc::invalid,
                path_ + ": cannot read " + what + " (damaged squashfs image: " + describe(err) +
                    ")",
                "check the file with `rdsquashfs -l / " + path_ + "`, or write it again");
}

void Image::set_window(std::uint64_t offset, std::uint64_t size) {
    window_offset_ = offset, window_size_ = size, windowed_ = true;
}

std::uint64_t Image::window_size() const {
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) throw_errno("cannot stat " + path_);
    auto file = static_cast<std::uint64_t>(st.st_size);
    if (!windowed_) return file;
    if (window_offset_ > file || window_size_ > file - window_offset_)
        throw Error(Errc::invalid,
                    path_ + " is shorter than its squashfs partition (it changed while read?)",
                    "check it with `siftool list " + path_ + "`");
    return window_size_;
}

void Image::open_tables() {
    if (t_) return;
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) throw_errno("cannot stat " + path_);
    if (!S_ISREG(st.st_mode))
        throw Error(Errc::invalid, path_ + " is not a regular file",
                    "give the path of a .sqsh file");
    const std::uint64_t size = window_size();
    char head[kSuperblockSize] = {};
    if (before_read_) before_read_(0, std::min<std::size_t>(sizeof head, size));
    ssize_t n = ::pread(fd_.get(), head, std::min<std::size_t>(sizeof head, size),
                        static_cast<off_t>(window_offset_));
    if (n < 0) throw_errno("cannot read " + path_);
    sb_ = check_superblock(std::string_view(head, static_cast<std::size_t>(n)), size, path_);
    const Sqfs& s = sqfs();
    auto tables = std::make_unique<Tables>(); // kept only when every table loaded
    Tables& t = *tables;
    t.file.fd = fd_.get();
    t.file.before = &before_read_;
    t.file.size = size;
    t.file.at = window_offset_;
    t.file.base.base.destroy = fd_destroy;
    t.file.base.read_at = fd_read_at;
    t.file.base.write_at = fd_write_at;
    t.file.base.get_size = fd_get_size;
    t.file.base.truncate = fd_truncate;
    sqfs_file_t* f = &t.file.base;
    if (int e = s.super_read(&t.super, f)) damaged("the superblock", e);

    sqfs_compressor_config_t cfg{};
    if (int e = s.compressor_config_init(&cfg, static_cast<SQFS_COMPRESSOR>(t.super.compression_id),
                                         t.super.block_size, SQFS_COMP_FLAG_UNCOMPRESS))
        damaged("the compressor settings", e);
    sqfs_compressor_t* cmp = nullptr;
    if (int e = s.compressor_create(&cfg, &cmp))
        throw Error(Errc::unsupported,
                    path_ + " uses the " + compression_name(t.super.compression_id) +
                        " compressor, which libsquashfs cannot decode (" + describe(e) + ")",
                    "write it again with zstd, xz, gzip or lz4 (mksquashfs -comp zstd)");
    t.cmp.reset(cmp);
    t.cmp_config = cfg;
    t.blocks = std::make_unique<BlockCache>(t.super.block_size);
    if ((t.super.flags & SQFS_FLAG_COMPRESSOR_OPTIONS) && t.cmp->read_options)
        if (int e = t.cmp->read_options(t.cmp.get(), f)) damaged("the compressor options", e);

    // libsquashfs allocates a whole table (count x entry size) before reading it; a table's
    // index (one 8-byte reference per 8 KiB of table) must fit in the image first.
    auto fits = [&](const char* what, std::uint64_t index_at, std::uint64_t bytes) {
        std::uint64_t refs = (bytes + 8191) / 8192;
        if (index_at > t.super.bytes_used || refs > (t.super.bytes_used - index_at) / 8)
            damaged(what, SQFS_ERROR_OUT_OF_BOUNDS);
    };
    if (t.super.fragment_entry_count && !(t.super.flags & SQFS_FLAG_NO_FRAGMENTS))
        fits("the fragment table", t.super.fragment_table_start,
             std::uint64_t{t.super.fragment_entry_count} * 16);
    if (!(t.super.flags & SQFS_FLAG_NO_XATTRS) && t.super.xattr_id_table_start != kNoTable) {
        sqfs_u32 count = 0; // after the key-value pairs' start (8 bytes)
        if (int e = fd_read_at(f, t.super.xattr_id_table_start + 8, &count, sizeof count))
            damaged("the xattr table", e);
        fits("the xattr table", t.super.xattr_id_table_start + 16, std::uint64_t{count} * 16);
    }

    t.ids.reset(s.id_table_create(0));
    if (!t.ids) throw Error(Errc::internal, "out of memory");
    if (int e = s.id_table_read(t.ids.get(), f, &t.super, t.cmp.get())) damaged("the id table", e);

    // The directory table ends where the next table begins (libsquashfs' own rule).
    std::uint64_t dir_limit = t.super.id_table_start;
    for (std::uint64_t next : {t.super.fragment_table_start, t.super.export_table_start})
        if (next > t.super.directory_table_start && next < dir_limit) dir_limit = next;
    t.inodes.reset(s.meta_reader_create(f, t.cmp.get(), t.super.inode_table_start,
                                        t.super.directory_table_start));
    t.dirs.reset(s.meta_reader_create(f, t.cmp.get(), t.super.directory_table_start, dir_limit));
    t.data.reset(s.data_reader_create(f, t.super.block_size, t.cmp.get(), 0));
    if (!t.inodes || !t.dirs || !t.data) throw Error(Errc::internal, "out of memory");
    if (int e = s.data_reader_load_fragment_table(t.data.get(), &t.super))
        damaged("the fragment table", e);
    if (!(t.super.flags & SQFS_FLAG_NO_XATTRS) && t.super.xattr_id_table_start != kNoTable) {
        t.xattrs.reset(s.xattr_reader_create(0));
        if (!t.xattrs) throw Error(Errc::internal, "out of memory");
        if (int e = s.xattr_reader_load(t.xattrs.get(), &t.super, f, t.cmp.get()))
            damaged("the xattr table", e);
        std::uint64_t ids = t.super.xattr_id_table_start;
        if (int e = fd_read_at(f, ids, &t.kv_start, sizeof t.kv_start))
            damaged("the xattr table", e);
        if (t.kv_start >= ids) damaged("the xattr table", SQFS_ERROR_OUT_OF_BOUNDS);
        t.kv.reset(s.meta_reader_create(f, t.cmp.get(), t.kv_start, ids));
        if (!t.kv) throw Error(Errc::internal, "out of memory");
    }
    t_ = std::move(tables);
}

// Sizes libsquashfs allocates from before it reads them (a file's block list, a symlink's
// target), read first from the inode's fixed part and bounded: a file may list no more blocks
// than the inode table can hold (a metadata block is at most 8 KiB and at least 3 bytes on
// disk), a target is at most PATH_MAX. Unchecked, a 4-byte size asks for gigabytes.
void Image::check_sizes(std::uint64_t ref) {
    static_assert(std::endian::native == std::endian::little, "squashfs is little-endian");
    const Sqfs& s = sqfs();
    sqfs_meta_reader_t* m = tables().inodes.get();
    const sqfs_super_t& sb = tables().super;
    std::string what = "inode " + std::to_string(ref);
    if (int e = s.meta_reader_seek(m, sb.inode_table_start + (ref >> 16), ref & 0xffff))
        damaged(what, e);
    sqfs_inode_t base{};
    if (int e = s.meta_reader_read(m, &base, sizeof base)) damaged(what, e);
    std::uint64_t table = sb.directory_table_start - sb.inode_table_start;
    std::uint64_t most = (table / 3 + 1) * 8192; // the inode table's largest uncompressed size
    if (base.type == SQFS_INODE_FILE || base.type == SQFS_INODE_EXT_FILE) {
        std::uint64_t size = 0;
        std::uint32_t fragment = 0;
        if (base.type == SQFS_INODE_FILE) {
            sqfs_inode_file_t f{};
            if (int e = s.meta_reader_read(m, &f, sizeof f)) damaged(what, e);
            size = f.file_size, fragment = f.fragment_index;
        } else {
            sqfs_inode_file_ext_t f{};
            if (int e = s.meta_reader_read(m, &f, sizeof f)) damaged(what, e);
            size = f.file_size, fragment = f.fragment_idx;
        }
        std::uint64_t blocks = size / sb.block_size;
        if (size % sb.block_size && fragment == 0xffffffff) ++blocks;
        if (blocks > most / 4) damaged(what + " (a file's block list)", SQFS_ERROR_OVERFLOW);
    } else if (base.type == SQFS_INODE_SLINK || base.type == SQFS_INODE_EXT_SLINK) {
        sqfs_inode_slink_t l{};
        if (int e = s.meta_reader_read(m, &l, sizeof l)) damaged(what, e);
        if (l.target_size == 0 || l.target_size > kMaxLinkTarget)
            damaged(what + " (a symlink's target)", SQFS_ERROR_CORRUPTED);
    }
}

Inode Image::inode(std::uint64_t ref) {
    check_sizes(ref);
    sqfs_inode_generic_t* out = nullptr;
    int e = sqfs().meta_reader_read_inode(tables().inodes.get(), &tables().super, ref >> 16,
                                          ref & 0xffff, &out);
    // Owned only on success: a failing read frees what it allocated, and libsquashfs 1.2's
    // extended-symlink reader leaves `out` pointing at the freed inode when the xattr index
    // after the target is cut off (found by fuzz_sqsh_reader: a double free).
    if (e) damaged("inode " + std::to_string(ref), e);
    Inode in(out);
    if (!file_type(in->base.type)) damaged("inode " + std::to_string(ref), SQFS_ERROR_CORRUPTED);
    return in;
}

struct stat Image::stat(const sqfs_inode_generic_t& in) {
    struct stat st {};
    st.st_mode = file_type(in.base.type) | (in.base.mode & 07777);
    sqfs_u32 uid = 0, gid = 0;
    const Sqfs& s = sqfs();
    if (s.id_table_index_to_id(tables().ids.get(), in.base.uid_idx, &uid) ||
        s.id_table_index_to_id(tables().ids.get(), in.base.gid_idx, &gid))
        damaged("the owner of inode " + std::to_string(in.base.inode_number),
                SQFS_ERROR_OUT_OF_BOUNDS);
    st.st_uid = uid;
    st.st_gid = gid;
    st.st_ino = in.base.inode_number;
    st.st_mtim.tv_sec = st.st_ctim.tv_sec = st.st_atim.tv_sec = in.base.mod_time;
    st.st_blksize = static_cast<blksize_t>(tables().super.block_size);
    const auto& d = in.data;
    switch (in.base.type) {
    case SQFS_INODE_DIR:
        st.st_nlink = d.dir.nlink, st.st_size = d.dir.size;
        break;
    case SQFS_INODE_EXT_DIR:
        st.st_nlink = d.dir_ext.nlink, st.st_size = d.dir_ext.size;
        break;
    case SQFS_INODE_FILE:
        st.st_nlink = 1, st.st_size = d.file.file_size;
        break;
    case SQFS_INODE_EXT_FILE:
        st.st_nlink = d.file_ext.nlink;
        st.st_size = static_cast<off_t>(d.file_ext.file_size & 0x7fffffffffffffffULL);
        break;
    case SQFS_INODE_SLINK:
        st.st_nlink = d.slink.nlink, st.st_size = d.slink.target_size;
        break;
    case SQFS_INODE_EXT_SLINK:
        st.st_nlink = d.slink_ext.nlink, st.st_size = d.slink_ext.target_size;
        break;
    case SQFS_INODE_BDEV:
    case SQFS_INODE_CDEV:
    case SQFS_INODE_EXT_BDEV:
    case SQFS_INODE_EXT_CDEV: {
        // The kernel's "new" encoding (squashfs uses new_decode_dev)
        std::uint32_t dev = in.base.type <= SQFS_INODE_CDEV ? d.dev.devno : d.dev_ext.devno;
        st.st_nlink = in.base.type <= SQFS_INODE_CDEV ? d.dev.nlink : d.dev_ext.nlink;
        st.st_rdev = makedev((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00));
        break;
    }
    case SQFS_INODE_FIFO:
    case SQFS_INODE_SOCKET:
        st.st_nlink = d.ipc.nlink;
        break;
    default:
        st.st_nlink = d.ipc_ext.nlink;
        break;
    }
    if (st.st_nlink == 0) st.st_nlink = 1;
    st.st_blocks = (st.st_size + 511) / 512;
    return st;
}

std::shared_ptr<const Image::Listing> Image::entries(const sqfs_inode_generic_t& in) {
    if (!image_parts::inode_is_dir(in))
        damaged("inode " + std::to_string(in.base.inode_number), SQFS_ERROR_NOT_DIR);
    auto key =
        in.base.type == SQFS_INODE_DIR
            ? std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>{in.data.dir.start_block,
                                                                      in.data.dir.offset,
                                                                      in.data.dir.size}
            : std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>{
                  in.data.dir_ext.start_block, in.data.dir_ext.offset, in.data.dir_ext.size};
    if (auto it = listings_.find(key); it != listings_.end()) return it->second;
    auto out = std::make_shared<Listing>();
    const Sqfs& s = sqfs();
    sqfs_readdir_state_t state{};
    if (int e = s.readdir_state_init(&state, &tables().super, &in))
        damaged("directory " + std::to_string(in.base.inode_number), e);
    for (;;) {
        sqfs_dir_entry_t* raw = nullptr;
        sqfs_u64 ref = 0;
        int e = s.meta_reader_readdir(tables().dirs.get(), &state, &raw, nullptr, &ref);
        Freed<sqfs_dir_entry_t> ent(raw);
        if (e > 0) break;
        if (e < 0) damaged("directory " + std::to_string(in.base.inode_number), e);
        std::string name(reinterpret_cast<const char*>(ent->name), std::size_t{ent->size} + 1);
        mode_t type = file_type(ent->type);
        if (!usable_name(name) || !type || out->size() >= kMaxDirEntries)
            damaged("directory " + std::to_string(in.base.inode_number), SQFS_ERROR_CORRUPTED);
        out->push_back({std::move(name), ref, type});
    }
    // squashfs sorts a listing by name (the kernel's lookup relies on it); a hostile one is
    // sorted here, so that a lookup is a binary search
    auto by_name = [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; };
    if (!std::is_sorted(out->begin(), out->end(), by_name))
        std::stable_sort(out->begin(), out->end(), by_name);
    if (cached_ + out->size() > kMaxCachedEntries) listings_.clear(), cached_ = 0;
    cached_ += out->size();
    listings_.emplace(key, out);
    return out;
}

std::optional<DirEntry> Image::find(const sqfs_inode_generic_t& in, std::string_view name) {
    auto list = entries(in); // sorted by name
    auto it = std::lower_bound(list->begin(), list->end(), name,
                               [](const DirEntry& e, std::string_view n) { return e.name < n; });
    if (it != list->end() && it->name == name) return *it;
    return std::nullopt;
}

std::string Image::link_target(const sqfs_inode_generic_t& in) {
    std::uint32_t size = 0;
    if (in.base.type == SQFS_INODE_SLINK)
        size = in.data.slink.target_size;
    else if (in.base.type == SQFS_INODE_EXT_SLINK)
        size = in.data.slink_ext.target_size;
    else
        damaged("symlink " + std::to_string(in.base.inode_number), SQFS_ERROR_ARG_INVALID);
    if (size == 0 || size > kMaxLinkTarget || size > in.payload_bytes_used)
        damaged("symlink " + std::to_string(in.base.inode_number), SQFS_ERROR_CORRUPTED);
    std::string target(reinterpret_cast<const char*>(in.extra), size);
    if (target.find('\0') != std::string::npos)
        damaged("symlink " + std::to_string(in.base.inode_number), SQFS_ERROR_CORRUPTED);
    return target;
}

std::size_t Image::read(const sqfs_inode_generic_t& in, std::uint64_t offset, char* buf,
                        std::size_t size) {
    return read_with(tables().data.get(), in, offset, buf, size);
}

std::size_t Image::read_with(sqfs_data_reader_t* data, const sqfs_inode_generic_t& in,
                             std::uint64_t offset, char* buf, std::size_t size) {
    if (!image_parts::inode_is_file(in))
        damaged("file " + std::to_string(in.base.inode_number), SQFS_ERROR_NOT_FILE);
    std::size_t done = 0;
    while (done < size) {
        auto chunk = static_cast<sqfs_u32>(std::min<std::size_t>(size - done, 1u << 30));
        sqfs_s32 n = sqfs().data_reader_read(data, &in, offset + done, buf + done, chunk);
        if (n < 0) damaged("file " + std::to_string(in.base.inode_number), n);
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

} // namespace gantry::sqsh
