#include "sqsh/write.hpp"

#include "layer/stream.hpp"
#include "layer/tar_reader.hpp"
#include "sif/write.hpp"
#include "sqsh/flatten.hpp"
#include "sqsh/format.hpp"
#include "store/images.hpp"
#include "store/layer_tar.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/spawn.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <memory>
#include <sched.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace gantry::sqsh {

namespace {

using Entry = std::unique_ptr<archive_entry, void (*)(archive_entry*)>;

std::string find_tar2sqfs() {
    if (auto exe = fs::find_program("tar2sqfs"); !exe.empty()) return exe;
    throw Error(Errc::unsupported, "saving a squashfs image needs tar2sqfs, which is not on PATH",
                "install squashfs-tools-ng (apt-get install squashfs-tools-ng)");
}

unsigned cpus() {
    cpu_set_t set;
    if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
    return 1;
}

// tar2sqfs reading our tar on its stdin and writing the squashfs into OUT (fd 3 in it); its
// messages kept for the error.
struct Packer {
    Fd in; // the tar stream's write end
    std::unique_ptr<Spawned> proc;

    Packer(const std::string& exe, int out, const SaveOptions& opt) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe failed");
        Fd r(p[0]);
        in.reset(p[1]);
        ::fcntl(in.get(), F_SETPIPE_SZ, 1 << 20); // fewer wake-ups (capped by pipe-max-size)
        std::string jobs = std::to_string(opt.jobs ? opt.jobs : cpus());
        std::string level = "level=" + std::to_string(opt.level);
        proc = std::make_unique<Spawned>(
            std::vector<std::string>{exe, "--compressor", "zstd", "--comp-extra", level,
                                     "--block-size", std::to_string(kBlockSize), "--num-jobs", jobs,
                                     "--no-skip", "--quiet", "--force", "/dev/fd/3"},
            std::vector<std::pair<int, int>>{{r.get(), 0}, {out, 3}}, std::vector<int>{1, 2});
    }
    int wait() { return proc->wait(); }
    std::string stderr_text() { return proc->messages(); }
};

// SIGPIPE ignored while we write into tar2sqfs: its early exit is an error, not our death.
struct NoSigpipe {
    struct sigaction old {};
    NoSigpipe() {
        struct sigaction ign {};
        ign.sa_handler = SIG_IGN;
        ::sigaction(SIGPIPE, &ign, &old);
    }
    ~NoSigpipe() { ::sigaction(SIGPIPE, &old, nullptr); }
};

// The flattened stream: entries copied from the layers into one pax tar.
class Stream {
  public:
    explicit Stream(int fd) : a_(archive_write_new(), archive_write_free) {
        if (!a_) throw Error(Errc::internal, "cannot create a tar writer");
        archive_write_set_format_pax_restricted(a_.get());
        archive_write_set_bytes_per_block(a_.get(), 1 << 20); // 1 MiB writes into the pipe
        archive_write_set_bytes_in_last_block(a_.get(), 1);
        if (archive_write_open_fd(a_.get(), fd) != ARCHIVE_OK) fail();
    }
    void header(archive_entry* e) {
        // ARCHIVE_WARN: a name not valid in the locale's charset, written as bytes
        // (hdrcharset=BINARY), as store::LayerWriter::header keeps it
        if (archive_write_header(a_.get(), e) < ARCHIVE_WARN) fail();
    }
    void data(const void* p, std::size_t n) {
        if (archive_write_data(a_.get(), p, n) < 0) fail();
    }
    void close() {
        if (archive_write_close(a_.get()) != ARCHIVE_OK) fail();
    }
    [[noreturn]] void fail() {
        const char* m = archive_error_string(a_.get());
        throw Error(Errc::io, std::string("writing the image into tar2sqfs failed: ") +
                                  (m ? m : "unknown error"));
    }

  private:
    std::unique_ptr<struct archive, int (*)(struct archive*)> a_;
};

// The xattrs of E without overlayfs's own (a lower layer's markers must not act again) and,
// on the root, without user.gantry.* (the header is ours to write).
void filter_xattrs(archive_entry* e, bool root) {
    struct X {
        std::string name;
        std::string value;
    };
    std::vector<X> keep;
    const char* name;
    const void* value;
    std::size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        std::string_view n(name);
        if (n.starts_with("trusted.overlay.") || n.starts_with("user.overlay.")) continue;
        if (root && n.starts_with("user.gantry.")) continue;
        keep.push_back({std::string(n), std::string(static_cast<const char*>(value), size)});
    }
    archive_entry_xattr_clear(e);
    for (auto& x : keep)
        archive_entry_xattr_add_entry(e, x.name.c_str(), x.value.data(), x.value.size());
}

void copy_data(layer::TarReader& in, Stream& out, std::uint64_t& bytes) {
    std::vector<char> buf(1 << 17);
    for (;;) {
        la_ssize_t n = archive_read_data(in.handle(), buf.data(), buf.size());
        if (n < 0)
            throw Error(Errc::invalid, std::string("a layer's tar data is damaged: ") +
                                           archive_error_string(in.handle()));
        if (n == 0) return;
        out.data(buf.data(), static_cast<std::size_t>(n));
        bytes += static_cast<std::uint64_t>(n);
    }
}

// A hard link whose target an upper layer replaced: the link keeps the lower file's content,
// which the store holds unpacked; it becomes a regular file of that content.
void write_detached_link(const store::Store& store, const oci::Digest& diff, archive_entry* e,
                         const std::string& target, Stream& out) {
    Fd root(::open(store.layer_rootfs(diff).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root)
        throw Error(Errc::not_found,
                    "hard link " + std::string(archive_entry_pathname(e)) +
                        ": its target's layer is not unpacked in the store",
                    "pull the image again");
    Fd f(fs::openat_in_root(root.get(), target, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!f || ::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode))
        throw Error(Errc::invalid, "hard link target " + target + " is not a regular file");
    archive_entry_set_hardlink(e, nullptr);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, st.st_size);
    out.header(e);
    std::vector<char> buf(1 << 17);
    for (;;) {
        ssize_t n = ::read(f.get(), buf.data(), buf.size());
        if (n < 0) throw_errno("cannot read " + target);
        if (n == 0) break;
        out.data(buf.data(), static_cast<std::size_t>(n));
    }
}

struct Totals {
    std::uint64_t entries = 0, bytes = 0;
};

void stream_layer(const store::Store& store, const oci::Descriptor& blob, const oci::Digest& diff,
                  Flattener& flat, Stream& out, Entry& root, Totals& t) {
    std::string what = "layer " + diff.str();
    // the blob, or the tar rebuilt from the tree (store/layer_tar.hpp)
    auto content = store::open_layer(store, blob.digest, diff, what);
    layer::HashingReader hashed(*content.reader);
    {
        layer::SniffedStream plain(hashed, what);
        layer::TarReader in(plain.plain(), what);
        std::string path, target, link;
        while (archive_entry* e = in.next()) {
            if (!layer::normalize_name(archive_entry_pathname(e), path))
                throw Error(Errc::invalid, what + ": entry " + archive_entry_pathname(e) +
                                               " leaves the root (..)");
            if (path.empty()) { // the root: the top-most layer's attributes
                if (!root) {
                    root.reset(archive_entry_clone(e));
                    filter_xattrs(root.get(), true);
                }
                continue;
            }
            auto m = Flattener::marker(path, target);
            if (m == Flattener::Marker::whiteout) {
                if (!target.empty()) flat.whiteout(target);
                continue;
            }
            if (m == Flattener::Marker::opaque) {
                flat.opaque(target);
                continue;
            }
            bool dir = archive_entry_filetype(e) == AE_IFDIR;
            if (!flat.keep(path, dir)) continue;
            archive_entry_set_pathname(e, path.c_str());
            layer::refuse_vast_sparse(e, what, "a squashfs file");
            archive_entry_sparse_clear(e);
            filter_xattrs(e, false);
            if (const char* hl = archive_entry_hardlink(e)) {
                if (!layer::normalize_name(hl, link) || link.empty())
                    throw Error(Errc::invalid, what + ": hard link " + path + " leaves the root");
                if (flat.kept_here(link)) {
                    archive_entry_set_hardlink(e, link.c_str());
                    archive_entry_set_size(e, 0);
                    out.header(e);
                } else {
                    write_detached_link(store, diff, e, link, out);
                }
            } else {
                out.header(e);
                if (archive_entry_filetype(e) == AE_IFREG) copy_data(in, out, t.bytes);
            }
            ++t.entries;
        }
    }
    layer::drain(hashed);
    if ("sha256:" + hashed.hex_final() != (content.rebuilt ? diff : blob.digest).str())
        throw Error(Errc::invalid,
                    what + ": its blob does not match its digest " + blob.digest.str(),
                    "the store is damaged: remove the image and pull it again");
    flat.next_layer();
}

void write_root(Entry& root, const Header& h, Stream& out) {
    if (!root) {
        root.reset(archive_entry_new());
        archive_entry_set_perm(root.get(), 0755);
        archive_entry_set_mtime(root.get(), 0, 0);
    }
    archive_entry_set_pathname(root.get(), "./");
    archive_entry_set_filetype(root.get(), AE_IFDIR);
    archive_entry_set_size(root.get(), 0);
    std::string v = header_json(h);
    archive_entry_xattr_add_entry(root.get(), kHeaderXattr, v.data(), v.size());
    out.header(root.get());
}

// The output being written: an unnamed file (O_TMPFILE) in OUT's directory, or where the
// filesystem has none (NFS), a hidden temporary name beside OUT, removed on failure.
class Output {
  public:
    explicit Output(const std::string& out) : target_(fs::stdfs::absolute(out)) {
        auto dir = target_.parent_path();
        fd_ = Fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0644));
        if (!fd_ && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
            named_ =
                (dir / ("." + target_.filename().string() + ".tmp-" + fs::unique_name())).string();
            fd_ = Fd(::open(named_.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644));
            if (!fd_) named_.clear();
        }
        if (!fd_)
            throw_errno("cannot create a file in " + dir.string(),
                        "choose an -o in a directory you can write");
    }
    ~Output() {
        if (!named_.empty()) ::unlink(named_.c_str());
    }
    Output(const Output&) = delete;
    Output& operator=(const Output&) = delete;
    int fd() const { return fd_.get(); }
    std::string dir() const { return target_.parent_path().string(); }

    // Gives the finished file its name: renamed over an existing one (REPLACE), else linked
    // only if the name is free. Returns false when it was not free (the file there stays).
    bool publish(bool replace) {
        if (::fsync(fd_.get()) != 0) throw_errno("cannot write " + target_.string());
        std::string staged = named_;
        if (staged.empty()) { // an unnamed file: give it a temporary name, or its final one
            std::string self = "/proc/self/fd/" + std::to_string(fd_.get());
            staged = (target_.parent_path() /
                      ("." + target_.filename().string() + ".tmp-" + fs::unique_name()))
                         .string();
            const std::string& first = replace ? staged : target_.string();
            if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, first.c_str(), AT_SYMLINK_FOLLOW) != 0) {
                if (!replace && errno == EEXIST) return false;
                throw_errno("cannot create " + target_.string());
            }
            if (!replace) return sync_dir(), true;
            named_ = staged;
        }
        if (!replace) {
            if (::link(staged.c_str(), target_.c_str()) != 0) {
                if (errno == EEXIST) return false;
                throw_errno("cannot create " + target_.string());
            }
            return sync_dir(), true; // the temporary name goes in the destructor
        }
        if (::rename(staged.c_str(), target_.c_str()) != 0)
            throw_errno("cannot create " + target_.string());
        named_.clear();
        sync_dir();
        return true;
    }

  private:
    void sync_dir() const {
        Fd d(::open(target_.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (d) ::fsync(d.get());
    }
    fs::stdfs::path target_;
    std::string named_;
    Fd fd_;
};

} // namespace

namespace {

// Files written as a layer above the image's (SaveOptions::extra): they hide the same paths
// below, as an upper layer's would.
void sqsh_write_extra(const std::vector<sif::File>& files, Flattener& flat, Stream& out,
                      Totals& t) {
    for (auto& f : files) {
        const bool dir = f.dir;
        if (!flat.keep(f.path, dir)) continue;
        Entry e(archive_entry_new(), archive_entry_free);
        archive_entry_set_pathname(e.get(), f.path.c_str());
        archive_entry_set_filetype(e.get(), dir ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(e.get(), f.mode);
        archive_entry_set_size(e.get(), dir ? 0 : static_cast<la_int64_t>(f.content.size()));
        archive_entry_set_mtime(e.get(), 0, 0);
        out.header(e.get());
        if (!dir) out.data(f.content.data(), f.content.size());
        ++t.entries;
    }
    flat.next_layer();
}

// The image REF flattened into tar2sqfs writing into OUT (DIR: where, for messages).
Totals sqsh_pack_image(const store::Store& store, const store::Image& img, const Header& h, int out,
                       const std::string& dir, const SaveOptions& opt) {
    auto exe = find_tar2sqfs();
    Totals t;
    NoSigpipe quiet;
    Packer pack(exe, out, opt);
    try {
        Stream s(pack.in.get());
        Flattener flat;
        Entry root(nullptr, archive_entry_free);
        if (!opt.extra.empty()) sqsh_write_extra(opt.extra, flat, s, t);
        for (std::size_t i = h.diff_ids.size(); i-- > 0;)
            stream_layer(store, img.manifest.layers[i], h.diff_ids[i], flat, s, root, t);
        write_root(root, h, s);
        s.close();
    } catch (const Error& e) {
        pack.in.reset();
        int st = pack.wait();
        if (e.code() == Errc::io && !Spawned::ok(st))
            throw Error(Errc::io, "tar2sqfs failed: " + pack.stderr_text());
        throw;
    }
    pack.in.reset();
    int st = pack.wait();
    if (!Spawned::ok(st))
        throw Error(Errc::io, "tar2sqfs failed: " + pack.stderr_text(),
                    "check the space left in " + dir);
    return t;
}

Header sqsh_header_of(const store::Store& store, const store::Image& img, const std::string& ref) {
    Header h;
    h.manifest = img.manifest_digest;
    h.config_digest = img.manifest.config.digest;
    h.diff_ids = img.config.diff_ids;
    h.config = store.read_blob(h.config_digest, kMaxHeader / 2);
    if (img.manifest.layers.size() != h.diff_ids.size())
        throw Error(Errc::invalid, "image " + ref +
                                       ": its manifest and config disagree on the "
                                       "number of layers");
    return h;
}

} // namespace

SaveResult save(const store::Store& store, const std::string& ref, const std::string& out,
                const SaveOptions& opt) {
    auto img = store::find_image(store, ref);
    Header h = sqsh_header_of(store, img, ref);
    Output tmp(out);
    Totals t = sqsh_pack_image(store, img, h, tmp.fd(), tmp.dir(), opt);
    struct stat st {};
    ::fstat(tmp.fd(), &st);
    bool placed = tmp.publish(opt.replace);
    return {t.entries, static_cast<std::uint64_t>(st.st_size), !placed};
}

SaveResult save_sif(const store::Store& store, const std::string& ref, const std::string& out,
                    const SaveOptions& options) {
    // a manifest digest names an image no tag names too (gantry build -o without -t)
    auto img = [&] {
        try {
            return store::find_image(store, ref);
        } catch (const Error& e) {
            if (e.code() != Errc::not_found || !ref.starts_with("sha256:")) throw;
            return store::read_image(store, oci::Digest::parse(ref));
        }
    }();
    Header h = sqsh_header_of(store, img, ref);
    auto doc = oci::parse_json(h.config, "image " + ref + "'s config");
    SaveOptions opt = options;
    auto files = sif::apptainer_files(doc);
    opt.extra.insert(opt.extra.end(), files.begin(), files.end());
    Output squashfs(out); // unnamed: gone with its descriptor
    Totals t = sqsh_pack_image(store, img, h, squashfs.fd(), squashfs.dir(), opt);
    struct stat st {};
    if (::fstat(squashfs.fd(), &st) != 0) throw_errno("cannot stat the squashfs of " + out);
    auto size = static_cast<std::uint64_t>(st.st_size);
    std::string id(16, '\0');
    if (::getrandom(id.data(), id.size(), 0) != static_cast<ssize_t>(id.size()))
        throw_errno("getrandom failed");
    id[6] = static_cast<char>((id[6] & 0x0f) | 0x40); // a version 4 UUID, as the reference's
    id[8] = static_cast<char>((id[8] & 0x3f) | 0x80);
    Output file(out);
    std::string head = sif::layout(size, img.config.platform.architecture, id, ::time(nullptr));
    fs::write_all(file.fd(), head.data(), head.size(), out);
    // the partition: copied by the kernel (a reflink where the filesystem shares extents)
    loff_t from = 0, to = static_cast<loff_t>(sif::kPartitionOffset);
    for (std::uint64_t left = size; left > 0;) {
        ssize_t n = ::copy_file_range(squashfs.fd(), &from, file.fd(), &to, left, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw_errno("cannot write " + out, "check the space left in " + file.dir());
        left -= static_cast<std::uint64_t>(n);
    }
    bool placed = file.publish(opt.replace);
    return {t.entries, sif::kPartitionOffset + size, !placed};
}

} // namespace gantry::sqsh
