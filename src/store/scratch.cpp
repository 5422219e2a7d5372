#include "store/scratch.hpp"

#include "store/owned_tree.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/units.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <set>
#include <string_view>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <vector>

namespace gantry::store {

namespace stdfs = std::filesystem;

namespace {

void mkdir_or_throw(const stdfs::path& p) {
    if (::mkdir(p.c_str(), 0755) != 0) throw_errno("cannot create " + p.string());
}

// A detached child deletes trash/: its own session, stdio on /dev/null (so a caller waiting for
// EOF on gantry's output, like a shell's $(...), does not wait for it), low CPU priority. It is
// not waited for: when gantry exits it is reparented, like any orphan.
void spawn_reaper(const stdfs::path& store_root) noexcept {
    pid_t pid = ::fork();
    if (pid != 0) return; // parent (or fork failed: the next run or `system prune` reaps)
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
    }
    ::close_range(3, ~0U, 0);
    ::setsid();
    (void)::setpriority(PRIO_PROCESS, 0, 10);
    try {
        reap_trash(store_root);
    } catch (...) {
    }
    ::_exit(0);
}

// Whether trash/ holds a full batch. Its entries are directories, so on filesystems that count
// subdirectories in a directory's link count (ext4, xfs, tmpfs) one stat answers; where the
// count is not kept (btrfs reports 1) every discard starts a reaper, as if the batch were 1.
bool batch_full(const stdfs::path& trash) {
    struct stat st {};
    if (::stat(trash.c_str(), &st) != 0) return false;
    return st.st_nlink < 2 || st.st_nlink - 2 >= kReapBatch;
}

} // namespace

Scratch::Scratch(Store& store, const std::string& id, Layer layer, const oci::Digest& image,
                 bool recorded, bool in_store, bool reuse)
    : store_(store), id_(id), root_(store.root()), dir_(store.root() / "containers" / id),
      layer_(layer), recorded_(recorded && in_store), reuse_(reuse), keep_(reuse) {
    if (::mkdir(mount_point().c_str(), 0755) != 0 && errno != EEXIST)
        throw_errno("cannot create " + mount_point().string());
    try {
        if (layer_ == Layer::disk && reuse_) {
            dir();
            if (::mkdir(upper().c_str(), 0755) != 0 && errno != EEXIST)
                throw_errno("cannot create " + upper().string());
            remove_owned_tree(work());
            mkdir_or_throw(work());
        } else if (layer_ == Layer::disk) {
            dir(); // fails on an id in use, before anything of that container is touched
            mkdir_or_throw(upper());
            mkdir_or_throw(work());
        }
        // Under the writer lock: a collection in progress (rmi, prune) finishes first, and one
        // that starts later sees the hold. What one finished before is reported as such, not as
        // a damaged store later ("layer not unpacked, run fsck").
        if (!in_store) return;
        auto writing = store_.writer_lock();
        if (recorded_)
            store_.add_hold(id_, image);
        else
            use_ = store_.use_image(image);
        if (!store_.has_blob(image)) { // collections remove every blob before any layer tree
            if (recorded_) store_.remove_hold(id_);
            throw Error(Errc::not_found,
                        "image " + image.str() +
                            " was removed (`gantry rmi` or `system prune`) while the container "
                            "was starting",
                        "load or pull the image again");
        }
    } catch (...) {
        try { // an error path: delete what we created here and now
            if (made_ && !reuse_) remove_owned_tree(dir_);
        } catch (...) {
        }
        throw;
    }
}

const stdfs::path& Scratch::dir() {
    if (made_) return dir_;
    if (::mkdir(dir_.c_str(), 0700) != 0) {
        if (errno == EEXIST && reuse_) {
            made_ = true;
            return dir_;
        }
        if (errno != ENOENT) throw_errno("cannot create " + dir_.string());
        fs::make_dirs(dir_.parent_path());
        mkdir_or_throw(dir_);
    }
    made_ = true;
    return dir_;
}

Scratch::~Scratch() {
    if (!keep_) discard();
}

void Scratch::discard() noexcept {
    if (gone_) return;
    gone_ = true;
    // first: the hold protects the layers the overlay used
    const bool reap = made_ && discard_dir(root_, dir_);
    use_.unlock();
    if (recorded_) try {
            store_.remove_hold(id_);
        } catch (...) {
        }
    // after the hold is gone: a reaper forked before holds the image's lock until it closes its
    // descriptors, and under load an `rmi` right after the run saw the image still in use
    if (reap) spawn_reaper(root_);
}

namespace {

// overlayfs makes the directories it keeps in a writable layer's work directory mode 000:
// work/work and work/index, and for a volatile mount (gantry's) work/work/incompat/volatile. They
// are made the owner's again (0700) before the container's directory waits in trash/, so that
// its owner can remove the store with `rm -rf` whatever the reaper has not reached yet (rm
// cannot enter a mode-000 directory that is not empty). A handful of directories, depth-bounded;
// nothing from the container writes there, and no link is followed.
void open_up(int dirfd, int depth) noexcept {
    int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    DIR* d = dup < 0 ? nullptr : ::fdopendir(dup);
    if (!d) {
        if (dup >= 0) ::close(dup);
        return;
    }
    while (dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name == "." || name == "..") continue;
        struct stat st {};
        if (e->d_type != DT_DIR &&
            (e->d_type != DT_UNKNOWN ||
             ::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)))
            continue;
        (void)::fchmodat(dirfd, e->d_name, 0700, 0);
        Fd sub(::openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub && depth < 4) open_up(sub.get(), depth + 1);
    }
    ::closedir(d);
}

void make_work_removable(const stdfs::path& dir) noexcept {
    Fd work(::open((dir / "work").c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (work) open_up(work.get(), 0); // else no disk layer
}

} // namespace

bool discard_dir(const stdfs::path& store_root, const stdfs::path& dir) noexcept {
    make_work_removable(dir);
    auto trash = store_root / "trash";
    auto to = trash / dir.filename();
    bool moved = ::rename(dir.c_str(), to.c_str()) == 0;
    if (!moved && errno == ENOENT && (::mkdir(trash.c_str(), 0700) == 0 || errno == EEXIST))
        moved = ::rename(dir.c_str(), to.c_str()) == 0;
    if (!moved) {
        try { // cannot move it (gone already, or trash/ unusable): delete it here and now
            remove_owned_tree(dir);
        } catch (...) {
        }
        return false;
    }
    return batch_full(trash);
}

std::uint64_t reap_trash(const stdfs::path& store_root) {
    auto trash = store_root / "trash";
    Fd dir(::open(trash.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return 0;
    if (::flock(dir.get(), LOCK_EX | LOCK_NB) != 0) return 0; // another reaper is at work
    std::uint64_t n = 0;
    std::set<stdfs::path> failed; // left in trash/ for the next reaper
    for (;;) {                    // until empty: containers may be discarded while we delete
        std::vector<stdfs::path> doomed;
        std::error_code ec;
        for (auto& e : stdfs::directory_iterator(trash, ec))
            if (!failed.contains(e.path())) doomed.push_back(e.path());
        if (doomed.empty()) break;
        for (auto& p : doomed) {
            try { // one entry that cannot be deleted does not keep the reaper from the others
                remove_owned_tree(p);
                ++n;
            } catch (const Error&) {
                failed.insert(p);
            }
        }
    }
    return n;
}

std::optional<std::string> write_report(const stdfs::path& upper, std::uint64_t threshold,
                                        Layer layer) {
    std::uint64_t total = fs::disk_usage(upper);
    if (total < threshold) return std::nullopt;
    std::vector<std::pair<std::uint64_t, std::string>> dirs;
    std::error_code ec;
    for (auto& top : stdfs::directory_iterator(upper, ec)) {
        if (top.is_directory(ec) && !top.is_symlink(ec)) {
            for (auto& sub : stdfs::directory_iterator(top.path(), ec))
                dirs.push_back(
                    {fs::disk_usage(sub.path()),
                     "/" + top.path().filename().string() + "/" + sub.path().filename().string()});
        } else {
            dirs.push_back({fs::disk_usage(top.path()), "/" + top.path().filename().string()});
        }
    }
    std::sort(dirs.rbegin(), dirs.rend());
    std::string where = dirs.empty() ? "/" : dirs[0].second;
    std::string amount = units::human_size(dirs.empty() ? total : dirs[0].first);
    if (layer == Layer::memory)
        return "this run wrote " + units::human_size(total) +
               " into the container's writable layer, which is held in memory (" + where + ": " +
               amount +
               "); bind-mount a host directory there instead, e.g. -v /scratch/out:" + where +
               " (or use --writable-layer disk)";
    return "this run wrote " + units::human_size(total) + " into the container's writable layer (" +
           where + ": " + amount +
           "); copy-on-write storage is slow for bulk data: bind-mount a host directory there "
           "instead, e.g. -v /scratch/out:" +
           where;
}

std::vector<std::string> memory_layer_reports(int tmpfs, std::uint64_t threshold) {
    std::vector<std::string> out;
    struct statfs st {};
    if (::fstatfs(tmpfs, &st) != 0 || st.f_blocks == 0) return out;
    auto used = static_cast<std::uint64_t>(st.f_blocks - st.f_bfree) * st.f_bsize;
    if (used >= threshold)
        if (auto w = write_report("/proc/self/fd/" + std::to_string(tmpfs) + "/upper", threshold,
                                  Layer::memory))
            out.push_back(*w);
    // full: less than one block per thousand left (what tmpfs keeps back is below that)
    if (st.f_bavail <= st.f_blocks / 1000)
        out.push_back("the container's writable layer, held in memory, filled up (" +
                      units::human_size(static_cast<std::uint64_t>(st.f_blocks) * st.f_bsize) +
                      "): writes into the container failed with \"No space left on device\"; "
                      "bind-mount a host directory for the output with -v, or use "
                      "--writable-layer disk");
    return out;
}

} // namespace gantry::store
