// copy_tree, write_tar and extract_tar_into (engine/copy_tree.hpp).
#include "engine/copy_tree.hpp"

#include "layer/extract.hpp"
#include "layer/tar_header.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/log.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace gantry::engine {

namespace {

[[noreturn]] void cp_fail(const std::string& what) {
    throw Error(Errc::io, what + ": " + std::strerror(errno));
}

std::vector<std::string> cp_dir_names(int dir) {
    std::vector<std::string> names;
    int dup = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* d = dup < 0 ? nullptr : ::fdopendir(dup);
    if (!d) {
        if (dup >= 0) ::close(dup);
        cp_fail("cannot read a directory");
    }
    while (auto* e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
            names.emplace_back(e->d_name);
    ::closedir(d);
    return names;
}

// Makes room for a non-directory NAME in DIR: an entry there that is not a directory goes.
void cp_clear_leaf(int dir, const std::string& name) {
    struct stat st {};
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
    if (S_ISDIR(st.st_mode))
        throw Error(Errc::conflict, "cannot overwrite directory " + name + " with a non-directory",
                    "remove it first, or copy to another name");
    if (::unlinkat(dir, name.c_str(), 0) != 0) cp_fail("cannot replace " + name);
}

// The directory NAME in DIR, made when missing (a directory there is merged into).
Fd cp_open_dest_dir(int dir, const std::string& name) {
    if (::mkdirat(dir, name.c_str(), 0700) != 0 && errno != EEXIST)
        cp_fail("cannot create directory " + name);
    Fd d(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) {
        if (errno == ENOTDIR || errno == ELOOP)
            throw Error(Errc::conflict,
                        "cannot copy a directory to " + name + ": it is not a directory",
                        "remove it first, or copy to another name");
        cp_fail("cannot open directory " + name);
    }
    return d;
}

void cp_copy_data(int in, int out, const std::string& name) {
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) cp_fail("cannot read " + name);
        if (n == 0) return;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) cp_fail("cannot write " + name);
            off += w;
        }
    }
}

// A regular file of a (hostile) tree, opened without blocking: a FIFO put in its place between
// the stat and the open is refused, not waited on.
Fd cp_open_file(int dir, const std::string& name, int nofollow) {
    Fd in(::openat(dir, name.c_str(), O_RDONLY | O_NONBLOCK | nofollow | O_CLOEXEC));
    if (!in) cp_fail("cannot open " + name);
    struct stat st {};
    if (::fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode))
        throw Error(Errc::conflict, name + " changed while it was copied (no longer a file)",
                    "copy it again");
    int flags = ::fcntl(in.get(), F_GETFL);
    if (flags >= 0) (void)::fcntl(in.get(), F_SETFL, flags & ~O_NONBLOCK);
    return in;
}

void cp_set_times(int fd, const struct stat& st) {
    struct timespec t[2] = {st.st_atim, st.st_mtim};
    (void)::futimens(fd, t);
}

void cp_entry(int src_dir, const std::string& src_name, int dst_dir, const std::string& dst_name,
              bool follow) {
    struct stat st {};
    if (::fstatat(src_dir, src_name.c_str(), &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0)
        cp_fail("cannot read " + src_name);
    const int nofollow = follow ? 0 : O_NOFOLLOW;
    if (S_ISDIR(st.st_mode)) {
        Fd in(::openat(src_dir, src_name.c_str(), O_RDONLY | O_DIRECTORY | nofollow | O_CLOEXEC));
        if (!in) cp_fail("cannot open directory " + src_name);
        Fd out = cp_open_dest_dir(dst_dir, dst_name);
        for (auto& n : cp_dir_names(in.get())) cp_entry(in.get(), n, out.get(), n, false);
        if (::fchmod(out.get(), st.st_mode & 07777) != 0) cp_fail("cannot chmod " + dst_name);
        cp_set_times(out.get(), st);
    } else if (S_ISREG(st.st_mode)) {
        Fd in = cp_open_file(src_dir, src_name, nofollow);
        cp_clear_leaf(dst_dir, dst_name);
        Fd out(::openat(dst_dir, dst_name.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!out) cp_fail("cannot create " + dst_name);
        cp_copy_data(in.get(), out.get(), src_name);
        if (::fchmod(out.get(), st.st_mode & 07777) != 0) cp_fail("cannot chmod " + dst_name);
        cp_set_times(out.get(), st);
    } else if (S_ISLNK(st.st_mode)) {
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlinkat(src_dir, src_name.c_str(), target.data(), target.size());
        if (n < 0) cp_fail("cannot read link " + src_name);
        target.resize(static_cast<size_t>(n));
        cp_clear_leaf(dst_dir, dst_name);
        if (::symlinkat(target.c_str(), dst_dir, dst_name.c_str()) != 0)
            cp_fail("cannot create link " + dst_name);
    } else if (S_ISFIFO(st.st_mode)) {
        cp_clear_leaf(dst_dir, dst_name);
        if (::mkfifoat(dst_dir, dst_name.c_str(), st.st_mode & 07777) != 0)
            cp_fail("cannot create fifo " + dst_name);
    } else {
        log::warn("left out " + src_name + ": a device or socket is not copied");
    }
}

// tar out

std::string cp_archive_error(archive* a) {
    const char* e = archive_error_string(a);
    return e ? e : "unknown error";
}

struct ArchiveWriter {
    archive* a = archive_write_new();
    ~ArchiveWriter() { archive_write_free(a); }
    void check(int rc, const std::string& what) {
        if (rc < ARCHIVE_OK)
            throw Error(Errc::io,
                        "cannot write the tar stream (" + what + "): " + cp_archive_error(a));
    }
};

void tar_entry(ArchiveWriter& w, int src_dir, const std::string& src_name, const std::string& path,
               bool follow) {
    struct stat st {};
    if (::fstatat(src_dir, src_name.c_str(), &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0)
        cp_fail("cannot read " + src_name);
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode) &&
        !S_ISFIFO(st.st_mode)) {
        log::warn("left out " + path + ": a device or socket is not copied");
        return;
    }
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               archive_entry_free);
    archive_entry_copy_stat(e.get(), &st);
    archive_entry_set_pathname(e.get(), path.c_str());
    const int nofollow = follow ? 0 : O_NOFOLLOW;
    Fd in;
    if (S_ISLNK(st.st_mode)) {
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlinkat(src_dir, src_name.c_str(), target.data(), target.size());
        if (n < 0) cp_fail("cannot read link " + src_name);
        target.resize(static_cast<size_t>(n));
        archive_entry_set_symlink(e.get(), target.c_str());
    } else if (S_ISREG(st.st_mode)) {
        in = cp_open_file(src_dir, src_name, nofollow);
    } else if (S_ISDIR(st.st_mode)) {
        in = Fd(::openat(src_dir, src_name.c_str(), O_RDONLY | O_DIRECTORY | nofollow | O_CLOEXEC));
        if (!in) cp_fail("cannot open " + src_name);
    }
    w.check(archive_write_header(w.a, e.get()), path);
    if (S_ISREG(st.st_mode)) {
        char buf[1 << 16];
        for (;;) {
            ssize_t n = ::read(in.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) cp_fail("cannot read " + path);
            if (n == 0) break;
            if (archive_write_data(w.a, buf, static_cast<size_t>(n)) < 0)
                w.check(ARCHIVE_FATAL, path);
        }
    }
    if (S_ISDIR(st.st_mode))
        for (auto& n : cp_dir_names(in.get())) tar_entry(w, in.get(), n, path + "/" + n, false);
}

// tar in

// The directory of the components COMPS[0..N) under DIR, made when missing; a component that is
// a link is refused.
Fd tar_parent(int dir, const std::vector<std::string>& comps, size_t n, const std::string& name) {
    Fd cur(::fcntl(dir, F_DUPFD_CLOEXEC, 0));
    for (size_t i = 0; i < n; ++i) {
        if (::mkdirat(cur.get(), comps[i].c_str(), 0755) != 0 && errno != EEXIST)
            cp_fail("cannot create the directory of " + name);
        Fd next(
            ::openat(cur.get(), comps[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!next) {
            if (errno == ELOOP || errno == ENOTDIR)
                throw Error(Errc::invalid,
                            "tar entry " + name + " leads through " + comps[i] +
                                ", which is not a directory (a symbolic link is not followed)",
                            "put the files themselves in the tar");
            cp_fail("cannot open the directory of " + name);
        }
        cur = std::move(next);
    }
    return cur;
}

} // namespace

void copy_tree(int src_dir, const std::string& src_name, int dst_dir, const std::string& dst_name,
               bool follow) {
    cp_entry(src_dir, src_name, dst_dir, dst_name, follow);
}

void write_tar(int src_dir, const std::string& src_name, const std::string& archive_name, int out,
               bool follow) {
    ArchiveWriter w;
    w.check(archive_write_set_format_pax_restricted(w.a), "format");
    w.check(archive_write_open_fd(w.a, out), "open");
    tar_entry(w, src_dir, src_name, archive_name, follow);
    w.check(archive_write_close(w.a), "close");
}

void extract_tar_into(int in, int dst_dir, const std::string& what) {
    std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
    archive_read_support_format_tar(a.get());
    archive_read_support_format_gnutar(a.get());
    archive_read_support_filter_none(a.get());
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_bzip2(a.get());
    archive_read_support_filter_xz(a.get());
    if (archive_read_open_fd(a.get(), in, 1 << 16) != ARCHIVE_OK)
        throw Error(Errc::invalid, what + ": not a tar stream (" + cp_archive_error(a.get()) + ")");
    archive_entry* e = nullptr;
    for (;;) {
        int rc = archive_read_next_header(a.get(), &e);
        if (rc == ARCHIVE_EOF) break;
        layer::check_tar_header(a.get(), rc, what);
        if (rc < ARCHIVE_WARN) throw Error(Errc::invalid, what + ": " + cp_archive_error(a.get()));
        std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
        std::vector<std::string> comps;
        if (!layer::normalize_entry_path(name, comps))
            throw Error(Errc::invalid, what + ": tar entry " + name + " names a parent (..)",
                        "make the tar with names below its top directory");
        if (comps.empty()) continue; // "./": the destination itself
        Fd parent = tar_parent(dst_dir, comps, comps.size() - 1, name);
        const std::string& leaf = comps.back();
        auto type = archive_entry_filetype(e);
        mode_t mode = archive_entry_perm(e) & 07777;
        if (type == AE_IFDIR) {
            Fd d = cp_open_dest_dir(parent.get(), leaf);
            (void)::fchmod(d.get(), mode);
        } else if (const char* hl = archive_entry_hardlink(e)) {
            std::vector<std::string> tc;
            if (!layer::normalize_entry_path(hl, tc) || tc.empty())
                throw Error(Errc::invalid, what + ": tar entry " + name + " links to " + hl);
            Fd tp = tar_parent(dst_dir, tc, tc.size() - 1, hl);
            cp_clear_leaf(parent.get(), leaf);
            if (::linkat(tp.get(), tc.back().c_str(), parent.get(), leaf.c_str(), 0) != 0)
                cp_fail("cannot link " + name);
        } else if (type == AE_IFLNK) {
            cp_clear_leaf(parent.get(), leaf);
            if (::symlinkat(archive_entry_symlink(e), parent.get(), leaf.c_str()) != 0)
                cp_fail("cannot create link " + name);
        } else if (type == AE_IFREG) {
            cp_clear_leaf(parent.get(), leaf);
            Fd out(::openat(parent.get(), leaf.c_str(),
                            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
            if (!out) cp_fail("cannot create " + name);
            const void* buf;
            size_t size;
            la_int64_t off;
            while ((rc = archive_read_data_block(a.get(), &buf, &size, &off)) == ARCHIVE_OK) {
                if (::pwrite(out.get(), buf, size, off) != static_cast<ssize_t>(size))
                    cp_fail("cannot write " + name);
            }
            if (rc != ARCHIVE_EOF)
                throw Error(Errc::invalid, what + ": " + cp_archive_error(a.get()));
            if (::ftruncate(out.get(), archive_entry_size(e)) != 0) cp_fail("cannot write " + name);
            (void)::fchmod(out.get(), mode);
            struct timespec t[2] = {{archive_entry_mtime(e), 0}, {archive_entry_mtime(e), 0}};
            (void)::futimens(out.get(), t);
        } else if (type == AE_IFIFO) {
            cp_clear_leaf(parent.get(), leaf);
            if (::mkfifoat(parent.get(), leaf.c_str(), mode) != 0)
                cp_fail("cannot create fifo " + name);
        } else {
            log::warn("left out " + name + ": a device or socket is not copied");
        }
    }
}

} // namespace gantry::engine
