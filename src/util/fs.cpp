#include "util/fs.hpp"

#include "util/error.hpp"
#include "util/unsafe_sync.hpp"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <set>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <utility>

namespace gantry::fs {

std::string self_exe() {
    std::error_code ec;
    auto p = stdfs::read_symlink("/proc/self/exe", ec);
    if (ec || p.empty() || !p.is_absolute())
        throw Error(Errc::internal, "cannot resolve /proc/self/exe: " + ec.message(),
                    "is /proc mounted?");
    return p.string();
}

std::string unique_name() {
    static std::atomic<unsigned> counter{0};
    static const unsigned seed = [] { // getrandom(2): std::random_device probes the CPU
        unsigned v = 0;
        if (::getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
            v = static_cast<unsigned>(::time(nullptr));
        return v;
    }();
    return std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
           std::to_string(seed);
}

bool temporary_writer_gone(const std::string& name) {
    auto at = name.find(".tmp-");
    if (at == std::string::npos) return false;
    auto digits = name.substr(at + 5, name.find('-', at + 5) - at - 5);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
        digits.size() > 9)
        return false;
    return ::kill(static_cast<pid_t>(std::stol(digits)), 0) != 0 && errno == ESRCH;
}

std::string find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string p = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
    for (std::size_t i = 0; i <= p.size();) {
        auto j = p.find(':', i);
        if (j == std::string::npos) j = p.size();
        std::string cand = p.substr(i, j - i) + "/" + name;
        if (j > i && ::access(cand.c_str(), X_OK) == 0) return cand;
        i = j + 1;
    }
    return "";
}

void write_atomic(const stdfs::path& path, std::string_view data, mode_t mode, Sync sync) {
    stdfs::path tmp = path;
    tmp += ".tmp-" + unique_name();
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (!fd) throw_errno("cannot create " + tmp.string());
    try {
        write_all(fd.get(), data.data(), data.size(), path.string());
        ::fchmod(fd.get(), mode); // best effort: the umask already applied at creation
        if (sync == Sync::durable) sync_file(fd.get(), path.string());
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw sys_error(err, "cannot rename into place " + path.string());
    }
    if (sync == Sync::durable) sync_dir(path.has_parent_path() ? path.parent_path() : ".");
}

bool unsafe_no_sync() {
    static const bool unsafe = [] {
        const char* v = std::getenv("GANTRY_UNSAFE_NO_SYNC");
        bool on = v && std::string_view(v) == "1";
        if (on) {
            static const char warning[] =
                "gantry: warning: GANTRY_UNSAFE_NO_SYNC=1: nothing is synced to disk; a crash "
                "of the machine may lose or corrupt the store (benchmarks only)\n";
            (void)!::write(STDERR_FILENO, warning, sizeof warning - 1);
        }
        return on;
    }();
    return unsafe;
}

void sync_file(int fd, const std::string& what) {
    if (unsafe_no_sync()) return;
    while (::fsync(fd) != 0) {
        if (errno == EINTR) continue;
        // a filesystem that has no durable storage to sync to (some FUSE servers): nothing to do
        if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) return;
        throw_errno("cannot write " + what + " to disk (fsync)");
    }
}

void sync_dir(const stdfs::path& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("cannot open directory " + path.string());
    sync_file(fd.get(), "directory " + path.string());
}

void write_all(int fd, const void* data, std::size_t n, const std::string& what) {
    auto p = static_cast<const char*>(data);
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw_errno("cannot write " + what);
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

std::string read_stream(int fd, std::uint64_t max_size, const std::string& what) {
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("cannot read " + what);
        }
        if (n == 0) return out;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > max_size)
            throw Error(Errc::invalid, what + " holds more than the limit of " +
                                           std::to_string(max_size) + " bytes");
    }
}

std::string read_file(const stdfs::path& path, std::uint64_t max_size) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("cannot open " + path.string());
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + path.string());
    if (S_ISDIR(st.st_mode))
        throw Error(Errc::invalid, path.string() + " is a directory, expected a file");
    if (static_cast<std::uint64_t>(st.st_size) > max_size)
        throw Error(Errc::invalid, path.string() + " is " + std::to_string(st.st_size) +
                                       " bytes, more than the limit of " +
                                       std::to_string(max_size));
    // Read to EOF: procfs and sysfs files report a size of 0.
    std::string out;
    out.resize(st.st_size > 0 ? static_cast<size_t>(st.st_size) : 4096);
    size_t got = 0;
    for (;;) {
        if (got == out.size()) {
            if (out.size() >= max_size) {
                char probe;
                ssize_t more = ::read(fd.get(), &probe, 1);
                if (more == 0) break;
                throw Error(Errc::invalid, path.string() + " is larger than the limit of " +
                                               std::to_string(max_size) + " bytes");
            }
            out.resize(std::min<std::uint64_t>(out.size() * 2, max_size));
        }
        ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("cannot read " + path.string());
        }
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    out.resize(got);
    return out;
}

namespace {

// Removes every entry of dirfd (recursively), making directories writable on the way.
void clear_dir(int dirfd, const std::string& where) {
    int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) throw_errno("cannot read " + where);
    DIR* d = ::fdopendir(dup);
    if (!d) {
        ::close(dup);
        throw_errno("cannot read " + where);
    }
    std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
    while (dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name == "." || name == "..") continue;
        bool is_dir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN) {
            struct stat st {};
            if (::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                is_dir = S_ISDIR(st.st_mode);
        }
        if (is_dir) {
            // a directory we may not enter or empty: made ours (a failure shows in the open)
            if (::fchmodat(dirfd, e->d_name, 0700, 0) != 0) {
            }
            Fd sub(::openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub) throw_errno("cannot open " + where + "/" + e->d_name);
            // Entries unlinked while a directory is read may make readdir skip others on some
            // filesystems (POSIX leaves it unspecified): one still not empty is read again.
            for (int pass = 0;; ++pass) {
                clear_dir(sub.get(), where + "/" + e->d_name);
                if (::unlinkat(dirfd, e->d_name, AT_REMOVEDIR) == 0 || errno == ENOENT) break;
                if (errno != ENOTEMPTY || pass == 3 || ::lseek(sub.get(), 0, SEEK_SET) != 0)
                    throw_errno("cannot remove " + where + "/" + e->d_name);
            }
        } else if (::unlinkat(dirfd, e->d_name, 0) != 0 && errno != ENOENT) {
            throw_errno("cannot remove " + where + "/" + e->d_name);
        }
    }
}

} // namespace

void remove_tree(const stdfs::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return;
        throw_errno("cannot stat " + path.string());
    }
    if (!S_ISDIR(st.st_mode)) {
        if (::unlink(path.c_str()) != 0 && errno != ENOENT)
            throw_errno("cannot remove " + path.string());
        return;
    }
    ::chmod(path.c_str(), 0700);
    Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw_errno("cannot open " + path.string());
    for (int pass = 0;; ++pass) { // read again when not empty, as in clear_dir
        clear_dir(fd.get(), path.string());
        if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return;
        if (errno != ENOTEMPTY || pass == 3 || ::lseek(fd.get(), 0, SEEK_SET) != 0)
            throw_errno("cannot remove " + path.string());
    }
}

void make_dirs(const stdfs::path& path, mode_t mode) {
    std::error_code ec;
    stdfs::create_directories(path, ec);
    if (ec) throw sys_error(ec.value(), "cannot create directory " + path.string());
    (void)mode;
}

Fd open_dir(const stdfs::path& path, bool want_read) {
    int flags = O_DIRECTORY | O_CLOEXEC | (want_read ? O_RDONLY : O_PATH);
    Fd fd(::open(path.c_str(), flags));
    if (!fd) throw_errno("cannot open directory " + path.string());
    return fd;
}

int openat_in_root(int root_fd, const std::string& path, int flags, mode_t mode,
                   std::uint64_t extra_resolve) {
    struct open_how how {};
    how.flags = static_cast<std::uint64_t>(flags) | O_CLOEXEC;
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra_resolve;
    for (;;) {
        long r = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how);
        if (r < 0 && errno == EAGAIN) continue; // racing rename: retry as the man page says
        return static_cast<int>(r);
    }
}

bool have_openat2() {
    static const bool ok = [] {
        int fd = openat_in_root(AT_FDCWD, "/", O_PATH);
        if (fd >= 0) ::close(fd);
        return fd >= 0 || errno != ENOSYS;
    }();
    return ok;
}

std::uint64_t disk_usage(const stdfs::path& path) {
    std::uint64_t total = 0;
    std::set<std::pair<dev_t, ino_t>> seen;
    std::error_code ec;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return 0;
    total += static_cast<std::uint64_t>(st.st_blocks) * 512;
    if (!S_ISDIR(st.st_mode)) return total;
    for (auto it = stdfs::recursive_directory_iterator(
             path, stdfs::directory_options::skip_permission_denied, ec);
         !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
        if (::lstat(it->path().c_str(), &st) != 0) continue;
        if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen.insert({st.st_dev, st.st_ino}).second)
            continue;
        total += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
    return total;
}

} // namespace gantry::fs
