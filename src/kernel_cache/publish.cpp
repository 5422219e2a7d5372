// A writer's additions published: a new generation from the current one (hard links) with the
// overlay upper directory applied (whiteouts remove, opaque directories replace), synced, renamed
// into place, `current` swapped (caches.hpp).
#include "kernel_cache/caches.hpp"
#include "kernel_cache/layout.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace gantry::kernel_cache {

namespace stdfs = std::filesystem;

std::string generation_name(unsigned long n) {
    return "gen-" + std::to_string(n);
}

long generation_number(const std::string& name) {
    if (!name.starts_with("gen-") || name.size() == 4 || name.size() > 14) return -1;
    long n = 0;
    for (char c : name.substr(4)) {
        if (c < '0' || c > '9') return -1;
        n = n * 10 + (c - '0');
    }
    return n;
}

std::string current_generation(const stdfs::path& key_dir) {
    std::error_code ec;
    auto target = stdfs::read_symlink(key_dir / kCurrent, ec);
    if (ec || generation_number(target.string()) < 0)
        throw Error(Errc::invalid, "the kernel cache " + key_dir.string() + " has no generation",
                    "remove it: gantry kernel-cache rm " + key_dir.filename().string());
    return target.string();
}

void swap_current(const stdfs::path& key_dir, const std::string& gen) {
    auto tmp = key_dir / (".current.tmp-" + fs::unique_name());
    if (::symlink(gen.c_str(), tmp.c_str()) != 0)
        throw_errno("cannot write the kernel cache's link " + tmp.string());
    if (::rename(tmp.c_str(), (key_dir / kCurrent).c_str()) != 0) {
        int saved = errno;
        ::unlink(tmp.c_str());
        errno = saved;
        throw_errno("cannot publish the kernel cache's generation " + gen);
    }
    fs::sync_dir(key_dir);
}

bool is_key_name(const std::string& name) {
    if (name.size() != 32) return false;
    for (char c : name)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

namespace {

// FROM's data into a new file TO with MODE.
void copy_data(const stdfs::path& from, const stdfs::path& to, mode_t mode) {
    Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!in) throw_errno("cannot read " + from.string());
    Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 07777));
    if (!out) throw_errno("cannot write " + to.string());
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(in.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("cannot read " + from.string());
        if (n == 0) break;
        fs::write_all(out.get(), buf, static_cast<std::size_t>(n), to.string());
    }
    ::fchmod(out.get(), mode & 07777);
}

void recreate_symlink(const stdfs::path& from, const stdfs::path& to) {
    std::error_code ec;
    auto target = stdfs::read_symlink(from, ec);
    if (ec) throw Error(Errc::io, "cannot read the link " + from.string() + ": " + ec.message());
    if (::symlink(target.c_str(), to.c_str()) != 0) throw_errno("cannot write " + to.string());
}

bool opaque(const stdfs::path& dir) {
    char v[4] = {};
    for (const char* name : {"user.overlay.opaque", "trusted.overlay.opaque"})
        if (::lgetxattr(dir.c_str(), name, v, sizeof v) == 1 && v[0] == 'y') return true;
    return false;
}

void remove_path(const stdfs::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return;
    if (S_ISDIR(st.st_mode))
        fs::remove_tree(p);
    else if (::unlink(p.c_str()) != 0)
        throw_errno("cannot remove " + p.string());
}

// UPPER (an overlay upper directory) applied onto TO: what it holds replaces TO's, its whiteouts
// (character devices 0/0) remove, its opaque directories replace TO's directory whole. MOVE: its
// files are renamed (same filesystem, the container has exited), else copied.
void apply_upper(const stdfs::path& upper, const stdfs::path& to, bool move) {
    for (const auto& e : stdfs::directory_iterator(upper)) {
        struct stat st {};
        if (::lstat(e.path().c_str(), &st) != 0) continue;
        auto dest = to / e.path().filename();
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
            remove_path(dest);
        } else if (S_ISDIR(st.st_mode)) {
            struct stat dst {};
            bool exists = ::lstat(dest.c_str(), &dst) == 0;
            if (exists && (!S_ISDIR(dst.st_mode) || opaque(e.path()))) {
                remove_path(dest);
                exists = false;
            }
            if (!exists && ::mkdir(dest.c_str(), 0700) != 0)
                throw_errno("cannot make " + dest.string());
            apply_upper(e.path(), dest, move);
            ::chmod(dest.c_str(), st.st_mode & 07777);
        } else if (S_ISREG(st.st_mode)) {
            remove_path(dest);
            if (!move || ::rename(e.path().c_str(), dest.c_str()) != 0)
                copy_data(e.path(), dest, st.st_mode);
        } else if (S_ISLNK(st.st_mode)) {
            remove_path(dest);
            recreate_symlink(e.path(), dest);
        }
    }
}

// Removes the generations of KEY_DIR but KEEP that no container reads (their lock taken),
// and temporaries whose writer has exited.
void remove_unread_generations(const stdfs::path& key_dir, const std::string& keep) {
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(key_dir, ec)) {
        std::string name = e.path().filename().string();
        if (name.starts_with(".gen.tmp-") && fs::temporary_writer_gone(name)) {
            fs::remove_tree(e.path());
            continue;
        }
        if (generation_number(name) < 0 || name == keep) continue;
        auto lock = FileLock::try_lock(key_dir / (name + ".lock"), FileLock::Mode::exclusive);
        if (!lock.held()) continue; // a container reads it
        fs::remove_tree(e.path());
        ::unlink((key_dir / (name + ".lock")).c_str());
    }
}

} // namespace

// TO made as FROM's tree, its files hard links of FROM's (a generation is never written: both
// may share them), or copies where they cannot be linked.
void link_tree(const stdfs::path& from, const stdfs::path& to) {
    for (const auto& e : stdfs::directory_iterator(from)) {
        struct stat st {};
        if (::lstat(e.path().c_str(), &st) != 0) continue;
        auto dest = to / e.path().filename();
        if (S_ISDIR(st.st_mode)) {
            if (::mkdir(dest.c_str(), 0700) != 0) throw_errno("cannot make " + dest.string());
            link_tree(e.path(), dest);
            ::chmod(dest.c_str(), st.st_mode & 07777);
        } else if (S_ISREG(st.st_mode)) {
            if (::link(e.path().c_str(), dest.c_str()) != 0) {
                // the link count's limit, another filesystem, a file another user owns
                // (fs.protected_hardlinks): a copy
                if (errno != EMLINK && errno != EXDEV && errno != EPERM && errno != EACCES)
                    throw_errno("cannot link " + dest.string());
                copy_data(e.path(), dest, st.st_mode);
            }
        } else if (S_ISLNK(st.st_mode)) {
            recreate_symlink(e.path(), dest);
        } // a fifo, a socket or a device in a cache: not kept
    }
}

void remove_unread(const stdfs::path& key_dir) {
    remove_unread_generations(key_dir, current_generation(key_dir));
}

std::string publish(const stdfs::path& key_dir, const stdfs::path& upper, bool move) {
    FileLock key_guard(key_dir / kKeyLock, FileLock::Mode::exclusive);
    std::string cur = current_generation(key_dir);
    std::string next = generation_name(static_cast<unsigned long>(generation_number(cur)) + 1);
    auto staging = key_dir / (".gen.tmp-" + fs::unique_name());
    try {
        if (::mkdir(staging.c_str(), 0700) != 0) throw_errno("cannot make " + staging.string());
        link_tree(key_dir / cur, staging);
        apply_upper(upper, staging, move);
        struct stat st {};
        if (::stat((key_dir / cur).c_str(), &st) == 0) ::chmod(staging.c_str(), st.st_mode & 07777);
        // the new generation's files on disk before its name is: a crash leaves the old one
        Fd dir(::open(staging.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir || ::syncfs(dir.get()) != 0) throw_errno("cannot sync " + staging.string());
        auto target = key_dir / next;
        fs::remove_tree(target); // a generation left by a crash between rename and swap
        if (::rename(staging.c_str(), target.c_str()) != 0)
            throw_errno("cannot publish " + target.string());
    } catch (...) {
        fs::remove_tree(staging);
        throw;
    }
    swap_current(key_dir, next);
    remove_unread_generations(key_dir, next);
    return next;
}

} // namespace gantry::kernel_cache
