#include "layer/extract.hpp"

#include "layer/tar_header.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/text.hpp"
#include "util/zeros.hpp"

#include <algorithm>
#include <archive.h>
#include <archive_entry.h>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <linux/openat2.h>
#include <memory>
#include <optional>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <unordered_map>

namespace gantry::layer {

using zeros::all_zero;
inline constexpr std::size_t kHoleBlock = zeros::kBlock;
// ExtractOptions::early_writeback: files of at least this size
inline constexpr std::int64_t kEarlyWritebackMin = 256 << 10;

bool normalize_entry_path(const std::string& name, std::vector<std::string>& out) {
    out.clear();
    size_t i = 0;
    while (i <= name.size()) {
        size_t j = name.find('/', i);
        if (j == std::string::npos) j = name.size();
        std::string_view comp(name.data() + i, j - i);
        if (comp == "..") return false;
        if (!comp.empty() && comp != ".") out.emplace_back(comp);
        i = j + 1;
    }
    return true;
}

namespace {

struct ReadCtx {
    Reader* reader;
    std::vector<char> buf;
    std::exception_ptr error;
    std::string first = {}; // the stream's first 512 bytes, to explain a refused first header
};

la_ssize_t read_cb(struct archive* a, void* p, const void** out) {
    auto* ctx = static_cast<ReadCtx*>(p);
    try {
        std::size_t n = ctx->reader->read(ctx->buf.data(), ctx->buf.size());
        if (ctx->first.size() < kTarBlock)
            ctx->first.append(ctx->buf.data(), std::min(n, kTarBlock - ctx->first.size()));
        *out = ctx->buf.data();
        return static_cast<la_ssize_t>(n);
    } catch (...) {
        ctx->error = std::current_exception();
        archive_set_error(a, EIO, "stream read failed");
        return -1;
    }
}

using ArchivePtr = std::unique_ptr<struct archive, int (*)(struct archive*)>;

class Extractor {
  public:
    Extractor(int root, const ExtractOptions& opt) : root_(root), opt_(opt) {}

    ExtractStats run(Reader& in) {
        ReadCtx ctx{&in, std::vector<char>(1 << 18), nullptr};
        ArchivePtr a(archive_read_new(), archive_read_free);
        archive_read_support_format_tar(a.get());
        archive_read_support_format_gnutar(a.get());
        archive_read_support_filter_none(a.get());
        if (archive_read_open(a.get(), &ctx, nullptr, read_cb, nullptr) != ARCHIVE_OK) {
            if (!ctx.error) check_first_tar_header(ctx.first, opt_.what);
            fail_archive(a.get(), ctx);
        }
        bool any = false;
        for (;;) {
            struct archive_entry* e = nullptr;
            int rc = archive_read_next_header(a.get(), &e);
            if (rc == ARCHIVE_EOF) break;
            if (!ctx.error) check_tar_header(a.get(), rc, opt_.what);
            if (rc < ARCHIVE_WARN) {
                if (!any && !ctx.error &&
                    archive_errno(a.get()) == EILSEQ) // libarchive: unrecognised format
                    throw Error(Errc::invalid, opt_.what + " is not a tar archive",
                                "layers must be tar streams (plain, gzip or zstd)");
                fail_archive(a.get(), ctx);
            }
            any = true;
            ++st_.entries;
            entry(a.get(), e, ctx);
        }
        finish_dirs();
        drain(in); // the rest (end-of-archive padding) still counts for the diffID
        return st_;
    }

  private:
    [[noreturn]] void fail_archive(struct archive* a, ReadCtx& ctx) {
        if (ctx.error) std::rethrow_exception(ctx.error);
        const char* msg = archive_error_string(a);
        throw Error(Errc::invalid,
                    opt_.what + ": corrupt or truncated tar data (" +
                        (msg ? msg : "unknown libarchive error") + ")",
                    "the layer is damaged; fetch or export the image again");
    }

    [[noreturn]] void hostile(const std::string& name, const std::string& why) {
        throw Error(Errc::invalid,
                    opt_.what + ": entry \"" + name + "\" " + why + "; refusing the layer",
                    "the image contains a path that would escape its layer; do not use it");
    }

    // fd of the directory comps[0..n), created (0755) where missing, resolved in-root.
    int dir_fd(const std::vector<std::string>& comps, size_t n, const std::string& entry_name) {
        if (n == 0) return root_;
        std::string key = text::join(std::span(comps).first(n), "/");
        if (auto it = cache_.find(key); it != cache_.end()) return it->second.get();
        int fd = fs::openat_in_root(root_, key, O_PATH | O_DIRECTORY);
        if (fd < 0 && errno == ENOENT) {
            int parent = dir_fd(comps, n - 1, entry_name);
            if (::mkdirat(parent, comps[n - 1].c_str(), 0755) != 0 && errno != EEXIST)
                throw_errno(opt_.what + ": cannot create directory " + key);
            fd = fs::openat_in_root(root_, key, O_PATH | O_DIRECTORY);
        }
        if (fd < 0) {
            if (errno == ENOTDIR || errno == ELOOP || errno == ENOENT || errno == EXDEV)
                hostile(entry_name, "needs \"" + key +
                                        "\" to be a directory inside the layer, but it is not "
                                        "(a file, or a symlink leading nowhere)");
            throw_errno(opt_.what + ": cannot open directory " + key);
        }
        if (cache_.size() > 4096) cache_.clear();
        auto [it, _] = cache_.emplace(key, Fd(fd));
        return it->second.get();
    }

    // Makes room for a new entry `leaf` in parent: keeps an existing directory when the new
    // entry is one too, removes anything else. Returns true if a directory was kept.
    bool clear_slot(int parent, const std::string& leaf, bool new_is_dir) {
        struct stat st {};
        if (::fstatat(parent, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) return false;
            throw_errno(opt_.what + ": cannot stat " + leaf);
        }
        if (S_ISDIR(st.st_mode)) {
            if (new_is_dir) return true;
            Fd d(::openat(parent, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!d) throw_errno(opt_.what + ": cannot open " + leaf);
            remove_children(d.get());
            if (::unlinkat(parent, leaf.c_str(), AT_REMOVEDIR) != 0)
                throw_errno(opt_.what + ": cannot replace directory " + leaf);
            cache_.clear();
            return false;
        }
        if (::unlinkat(parent, leaf.c_str(), 0) != 0)
            throw_errno(opt_.what + ": cannot replace " + leaf);
        if (S_ISLNK(st.st_mode)) cache_.clear(); // cached paths may have gone through it
        return false;
    }

    void remove_children(int dfd) {
        // Reuse the robust remover through /proc/self/fd: the fd pins the right directory.
        std::string path = "/proc/self/fd/" + std::to_string(dfd);
        for (auto& e : fs::stdfs::directory_iterator(path)) fs::remove_tree(e.path());
    }

    void entry(struct archive* a, struct archive_entry* e, ReadCtx& ctx) {
        const char* raw = archive_entry_pathname(e);
        if (!raw) raw = archive_entry_pathname_utf8(e);
        if (!raw) throw Error(Errc::invalid, opt_.what + ": tar entry without a name");
        std::string name = raw;
        std::vector<std::string> comps;
        if (!normalize_entry_path(name, comps)) hostile(name, "contains \"..\"");
        mode_t type = archive_entry_filetype(e);
        const char* hardlink = archive_entry_hardlink(e);
        if (comps.empty()) { // the layer root itself ("./")
            if (type == AE_IFDIR) defer_dir("", perm(e, true), archive_entry_mtime(e));
            return;
        }
        const std::string& leaf = comps.back();
        int parent = dir_fd(comps, comps.size() - 1, name);

        if (leaf.starts_with(".wh.")) {
            whiteout(parent, leaf, name);
            return;
        }
        if (hardlink) {
            link(parent, leaf, name, hardlink);
            return;
        }
        switch (type) {
        case AE_IFREG:
            file(a, e, ctx, parent, leaf, name);
            break;
        case AE_IFDIR: {
            clear_slot(parent, leaf, true);
            if (::mkdirat(parent, leaf.c_str(), 0700) != 0 && errno != EEXIST)
                throw_errno(opt_.what + ": cannot create directory " + name);
            std::string path = text::join(comps, "/");
            if (!opt_.privileged || archive_entry_xattr_count(e) > 0) {
                Fd d(::openat(parent, leaf.c_str(),
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!d) throw_errno(opt_.what + ": cannot open directory " + name);
                owner(e, d.get(), parent, leaf, false);
                xattrs(e, d.get());
            } else {
                owner(e, -1, parent, leaf, false);
            }
            defer_dir(path, perm(e, true), archive_entry_mtime(e));
            ++st_.dirs;
            break;
        }
        case AE_IFLNK: {
            clear_slot(parent, leaf, false);
            const char* target = archive_entry_symlink(e);
            if (!target) target = archive_entry_symlink_utf8(e);
            if (!target)
                throw Error(Errc::invalid, opt_.what + ": symlink " + name + " has no target");
            if (::symlinkat(target, parent, leaf.c_str()) != 0)
                throw_errno(opt_.what + ": cannot create symlink " + name);
            if (opt_.privileged) owner(e, -1, parent, leaf, true);
            set_times(parent, leaf, archive_entry_mtime(e), AT_SYMLINK_NOFOLLOW);
            ++st_.symlinks;
            break;
        }
        case AE_IFCHR:
        case AE_IFBLK:
            if (!opt_.privileged) {
                ++st_.skipped_devices;
                return;
            }
            clear_slot(parent, leaf, false);
            if (::mknodat(parent, leaf.c_str(), type | perm(e, false),
                          makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e))) != 0)
                throw_errno(opt_.what + ": cannot create device " + name);
            owner(e, -1, parent, leaf, false);
            break;
        case AE_IFIFO:
            clear_slot(parent, leaf, false);
            if (::mkfifoat(parent, leaf.c_str(), perm(e, false)) != 0)
                throw_errno(opt_.what + ": cannot create fifo " + name);
            owner(e, -1, parent, leaf, false);
            break;
        default: // sockets and unknown types carry no content
            break;
        }
    }

    // Directory modes and times are applied at the end (children first), the last entry for a
    // path winning as in tar; a read-only directory must not block its own children.
    void defer_dir(const std::string& path, mode_t mode, time_t mtime) {
        auto [it, fresh] = dir_index_.emplace(path, dirs_.size());
        if (fresh)
            dirs_.push_back({path, mode, mtime});
        else
            dirs_[it->second] = {path, mode, mtime};
    }

    mode_t perm(struct archive_entry* e, bool is_dir) {
        mode_t m = archive_entry_perm(e) & 07777;
        if (!opt_.privileged && !is_dir && (m & (S_ISUID | S_ISGID))) {
            m &= ~static_cast<mode_t>(S_ISUID | S_ISGID);
            ++st_.stripped_setid;
        }
        return m;
    }

    void whiteout(int parent, const std::string& leaf, const std::string& name) {
        if (leaf == ".wh..wh..opq") {
            Fd d(::openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!d || ::fsetxattr(d.get(), kOpaqueXattr, "y", 1, 0) != 0)
                throw_errno(opt_.what + ": cannot mark " + name + " opaque",
                            "the store's filesystem must support user xattrs (ext4, xfs, tmpfs)");
            ++st_.whiteouts;
            return;
        }
        std::string target = leaf.substr(4);
        if (target.empty() || target == "." || target == ".." || target.starts_with(".wh."))
            hostile(name, "is a malformed whiteout");
        clear_slot(parent, target, false);
        if (::mknodat(parent, target.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
            throw_errno(opt_.what + ": cannot create overlay whiteout for " + name,
                        "overlay whiteouts need Linux >= 5.8 for unprivileged users");
        ++st_.whiteouts;
    }

    void link(int parent, const std::string& leaf, const std::string& name,
              const std::string& target) {
        std::vector<std::string> t;
        if (!normalize_entry_path(target, t) || t.empty())
            hostile(name, "is a hard link to \"" + target + "\", outside the layer");
        std::string tdir = text::join(std::span(t).first(t.size() - 1), "/");
        Fd tparent(tdir.empty() ? ::fcntl(root_, F_DUPFD_CLOEXEC, 0)
                                : fs::openat_in_root(root_, tdir, O_PATH | O_DIRECTORY, 0,
                                                     RESOLVE_NO_SYMLINKS));
        struct stat st {};
        if (!tparent || ::fstatat(tparent.get(), t.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            hostile(name, "is a hard link to \"" + target + "\", which is not in this layer");
        if (S_ISDIR(st.st_mode)) hostile(name, "is a hard link to a directory");
        struct stat cur {};
        if (::fstatat(parent, leaf.c_str(), &cur, AT_SYMLINK_NOFOLLOW) == 0 &&
            cur.st_ino == st.st_ino && cur.st_dev == st.st_dev)
            return;
        clear_slot(parent, leaf, false);
        if (::linkat(tparent.get(), t.back().c_str(), parent, leaf.c_str(), 0) != 0)
            throw_errno(opt_.what + ": cannot create hard link " + name);
        ++st_.hardlinks;
    }

    // Writes SIZE bytes of data at OFFSET into a file created empty here, leaving every zero
    // chunk (a 4 KiB-aligned block, or its part inside this buffer) unwritten: the file is new,
    // so what is not written reads back as zeros, and a block nothing is written to takes no disk
    // (a hole; ftruncate sets the size when the file ends in one). Tailored libraries (zeroed
    // device code) and zero-filled files cost nothing. On a filesystem without holes the
    // skipped ranges still read back as zeros.
    void write_sparse(int fd, const char* p, std::size_t size, std::uint64_t offset,
                      const std::string& name) {
        std::size_t at = 0;
        while (at < size) {
            // Skip zero chunks, then gather the chunks up to the next zero one.
            auto chunk = [&](std::size_t from) {
                std::size_t into = static_cast<std::size_t>((offset + from) % kHoleBlock);
                return std::min<std::size_t>(kHoleBlock - into, size - from);
            };
            while (at < size && all_zero(p + at, chunk(at))) at += chunk(at);
            std::size_t run = at;
            while (run < size && !all_zero(p + run, chunk(run))) run += chunk(run);
            // Blocks this run touches, the first one unless a previous write counted it.
            std::uint64_t first = (offset + at) / kHoleBlock,
                          last = (offset + run - 1) / kHoleBlock;
            if (run > at) {
                if (first == last_block_) ++first;
                if (last >= first) st_.allocated += (last - first + 1) * kHoleBlock;
                last_block_ = last;
            }
            for (std::size_t done = at; done < run;) {
                ssize_t w = ::pwrite(fd, p + done, run - done, static_cast<off_t>(offset + done));
                if (w < 0) {
                    if (errno == EINTR) continue;
                    throw_errno(opt_.what + ": cannot write " + name);
                }
                done += static_cast<std::size_t>(w);
            }
            at = run;
        }
    }

    std::uint64_t last_block_ = ~std::uint64_t{0}; // the file's last block counted in allocated

    void file(struct archive* a, struct archive_entry* e, ReadCtx& ctx, int parent,
              const std::string& leaf, const std::string& name) {
        clear_slot(parent, leaf, false);
        Fd fd(::openat(parent, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0600));
        if (!fd) throw_errno(opt_.what + ": cannot create " + name);
        const void* buf = nullptr;
        size_t size = 0;
        la_int64_t offset = 0;
        std::int64_t end = 0; // the file's size: the data's end or the header's size
        last_block_ = ~std::uint64_t{0};
        for (;;) {
            int rc = archive_read_data_block(a, &buf, &size, &offset);
            if (rc == ARCHIVE_EOF) break;
            if (rc < ARCHIVE_WARN) fail_archive(a, ctx);
            write_sparse(fd.get(), static_cast<const char*>(buf), size,
                         static_cast<std::uint64_t>(offset), name);
            st_.bytes += size;
            end = std::max<std::int64_t>(end, offset + static_cast<la_int64_t>(size));
        }
        if (archive_entry_size_is_set(e)) end = std::max<std::int64_t>(end, archive_entry_size(e));
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) throw_errno(opt_.what + ": cannot examine " + name);
        if (st.st_size < end && ::ftruncate(fd.get(), end) != 0)
            throw_errno(opt_.what + ": cannot size " + name);
        // a hint, not the sync: an error here (EIO) is met again, and reported, by the sync that
        // makes the tree durable before it is published. Large files only: the call starts the
        // writeback in this thread (~0.1 ms each, measured), which thousands of small files
        // would pay for little; the syncfs writes those together.
        if (opt_.early_writeback && end >= kEarlyWritebackMin)
            (void)::sync_file_range(fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
        owner(e, fd.get(), parent, leaf, false);
        xattrs(e, fd.get());
        if (::fchmod(fd.get(), perm(e, false)) != 0)
            throw_errno(opt_.what + ": cannot chmod " + name);
        struct timespec ts[2] = {{archive_entry_mtime(e), 0}, {archive_entry_mtime(e), 0}};
        ::futimens(fd.get(), ts);
        ++st_.files;
    }

    void owner(struct archive_entry* e, int fd, int parent, const std::string& leaf,
               bool is_symlink) {
        auto uid = static_cast<uid_t>(archive_entry_uid(e));
        auto gid = static_cast<gid_t>(archive_entry_gid(e));
        if (opt_.privileged) {
            if (::fchownat(parent, leaf.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
                throw_errno(opt_.what + ": cannot chown " + leaf);
            return;
        }
        if ((uid == 0 && gid == 0) || is_symlink || fd < 0 || !opt_.record_owners) return;
        std::string v = std::to_string(uid) + ":" + std::to_string(gid);
        if (::fsetxattr(fd, kOwnerXattr, v.data(), v.size(), 0) == 0) // a record only
            ++st_.owners_recorded;
    }

    void xattrs(struct archive_entry* e, int fd) {
        if (archive_entry_xattr_reset(e) == 0) return;
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
            std::string_view n = name;
            bool user = n.starts_with("user.") && !n.starts_with("user.overlay.") &&
                        !n.starts_with("user.gantry.");
            bool cap = opt_.privileged && n == "security.capability";
            if (!user && !cap) {
                ++st_.dropped_xattrs;
                continue;
            }
            if (::fsetxattr(fd, name, value, size, 0) != 0) ++st_.dropped_xattrs;
        }
    }

    void set_times(int parent, const std::string& leaf, time_t mtime, int flags) {
        struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
        ::utimensat(parent, leaf.c_str(), ts, flags);
    }

    void finish_dirs() {
        for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
            Fd d(it->path.empty() ? ::openat(root_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                  : fs::openat_in_root(root_, it->path, O_RDONLY | O_DIRECTORY));
            if (!d) continue; // replaced by a later entry
            if (::fchmod(d.get(), it->mode) != 0)
                throw_errno(opt_.what + ": cannot chmod directory " + it->path);
            struct timespec ts[2] = {{it->mtime, 0}, {it->mtime, 0}};
            ::futimens(d.get(), ts);
        }
    }

    struct DirMeta {
        std::string path;
        mode_t mode;
        time_t mtime;
    };

    int root_;
    const ExtractOptions& opt_;
    ExtractStats st_;
    std::unordered_map<std::string, Fd> cache_;
    std::vector<DirMeta> dirs_;
    std::unordered_map<std::string, size_t> dir_index_;
};

} // namespace

ExtractStats extract_tar(Reader& in, int root_fd, const ExtractOptions& opt) {
    if (!fs::have_openat2())
        throw Error(Errc::unsupported, "this kernel lacks openat2(2), which safe extraction needs",
                    "gantry needs Linux 5.6 or newer");
    return Extractor(root_fd, opt).run(in);
}

} // namespace gantry::layer
