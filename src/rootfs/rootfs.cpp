#include "rootfs/rootfs.hpp"

#include "layer/extract.hpp"
#include "rootfs/image_files.hpp"
#include "store/owned_tree.hpp"
#include "userns/userns_child.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/zeros.hpp"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <set>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace gantry::rootfs {

LayerStack stack(const store::Store& store, const std::vector<oci::Digest>& diff_ids) {
    LayerStack s;
    s.layers_dir = (store.root() / "layers/sha256").string();
    for (auto it = diff_ids.rbegin(); it != diff_ids.rend(); ++it) {
        if (!store.has_layer(*it))
            throw Error(Errc::not_found, "layer " + it->str() + " is not unpacked in the store",
                        "run `gantry system fsck`, then load or pull the image again");
        // meta.json is written after the tree; a tree gone since (a crash, a hand) is damage
        struct stat st {};
        if (::stat(store.layer_rootfs(*it).c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
            throw Error(Errc::invalid,
                        "layer " + it->str() +
                            " is incomplete in the store: its unpacked tree (rootfs/) is missing",
                        "run `gantry system fsck --repair`, then load or pull the image again");
        s.lower.push_back(it->hex() + "/rootfs");
    }
    return s;
}

namespace {

bool is_whiteout(const struct stat& st) {
    return S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0;
}

// Copies a regular file's data into a new empty file: only its data segments (SEEK_DATA /
// SEEK_HOLE), so the holes of an unpacked layer (zeroed device code, zero-filled files) stay
// holes, by copy_file_range, or by reads and writes that skip zero blocks where the kernel
// refuses it (EXDEV: the destination is on another filesystem, e.g. a bundle on tmpfs).
void copy_data(int in, int out, off_t size, const std::string& where) {
    std::vector<char> buf;
    off_t at = 0;
    while (at < size) {
        off_t data = ::lseek(in, at, SEEK_DATA);
        if (data < 0 && errno == ENXIO) break; // only a hole is left
        if (data < 0) data = at;               // no SEEK_DATA here: copy everything
        if (data >= size) break;
        off_t hole = ::lseek(in, data, SEEK_HOLE);
        if (hole <= data || hole > size) hole = size; // none, or nonsense: copy to the end
        off_t from = data;
        while (from < hole) {
            off_t a = from, b = from;
            ssize_t n = ::copy_file_range(in, &a, out, &b, static_cast<size_t>(hole - from), 0);
            if (n > 0) {
                from += n;
                continue;
            }
            if (n < 0 && errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
                errno != EOPNOTSUPP)
                throw_errno("cannot copy " + where);
            if (n == 0) throw Error(Errc::io, "cannot copy " + where + ": it shrank while copied");
            buf.resize(1 << 20);
            ssize_t r = ::pread(in, buf.data(), std::min<size_t>(buf.size(), hole - from), from);
            if (r <= 0) throw_errno("cannot read " + where);
            for (ssize_t o = 0; o < r;) {
                auto len = std::min<ssize_t>(zeros::kBlock, r - o);
                for (ssize_t w = 0; w < len && !zeros::all_zero(buf.data() + o, len);) {
                    ssize_t k = ::pwrite(out, buf.data() + o + w, static_cast<size_t>(len - w),
                                         from + o + w);
                    if (k < 0 && errno != EINTR) throw_errno("cannot write the copy of " + where);
                    if (k > 0) w += k;
                }
                o += len;
            }
            from += r;
        }
        at = hole;
    }
    if (::ftruncate(out, size) != 0) throw_errno("cannot size the copy of " + where);
}

class Copier {
  public:
    // RECORD_OWNERS: this process is root of a user namespace over layers whose owners were
    // applied (flatten): an owner other than root is recorded on the copy (layer::kOwnerXattr)
    explicit Copier(bool privileged, bool record_owners = false)
        : privileged_(privileged), record_owners_(record_owners) {}

    // Copies the children of src (a directory fd) into dst (a directory fd).
    void dir(int src, int dst, const std::string& where) {
        int dup = ::fcntl(src, F_DUPFD_CLOEXEC, 0);
        DIR* d = ::fdopendir(dup);
        if (!d) throw_errno("cannot read " + where);
        std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
        ::rewinddir(d);
        while (dirent* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name == "." || name == "..") continue;
            entry(src, dst, name, where + "/" + name);
        }
    }

  private:
    void remove(int dst, const std::string& name) {
        struct stat st {};
        if (::fstatat(dst, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
        if (S_ISDIR(st.st_mode)) {
            std::string p = "/proc/self/fd/" + std::to_string(dst) + "/" + name;
            fs::remove_tree(p);
        } else {
            ::unlinkat(dst, name.c_str(), 0);
        }
    }

    void meta(int dst, const std::string& name, const struct stat& st, bool symlink) {
        // Best effort, as the copy always was; said at --debug. (A result ignored outright is
        // an error under _FORTIFY_SOURCE's warn_unused_result: dpkg-buildflags, -Werror.)
        if (privileged_ &&
            ::fchownat(dst, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
            log::debug("cannot set the owner of " + name + " in the copy: " + std::strerror(errno));
        if (!symlink && ::fchmodat(dst, name.c_str(), st.st_mode & 07777, 0) != 0)
            log::debug("cannot set the mode of " + name + " in the copy: " + std::strerror(errno));
        struct timespec ts[2] = {st.st_atim, st.st_mtim};
        ::utimensat(dst, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
    }

    void entry(int src, int dst, const std::string& name, const std::string& where) {
        struct stat st {};
        if (::fstatat(src, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            throw_errno("cannot stat " + where);
        if (is_whiteout(st)) {
            remove(dst, name);
            return;
        }
        struct stat cur {};
        bool exists = ::fstatat(dst, name.c_str(), &cur, AT_SYMLINK_NOFOLLOW) == 0;
        if (S_ISDIR(st.st_mode)) {
            Fd s(::openat(src, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            char v[4] = {};
            bool opaque = ::fgetxattr(s.get(), layer::kOpaqueXattr, v, sizeof v) > 0 && v[0] == 'y';
            if (exists && (!S_ISDIR(cur.st_mode) || opaque)) {
                remove(dst, name);
                exists = false;
            }
            if (!exists && ::mkdirat(dst, name.c_str(), 0700) != 0)
                throw_errno("cannot create " + where);
            Fd d(::openat(dst, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!d) throw_errno("cannot open " + where);
            ::fchmod(d.get(), 0700);
            if (!privileged_) record_owner(s.get(), d.get(), st);
            dir(s.get(), d.get(), where);
            meta(dst, name, st, false);
            return;
        }
        if (exists) remove(dst, name);
        if (S_ISREG(st.st_mode)) {
            if (st.st_nlink > 1) {
                auto it = links_.find({st.st_dev, st.st_ino});
                if (it != links_.end() &&
                    ::linkat(AT_FDCWD, it->second.c_str(), dst, name.c_str(), 0) == 0)
                    return;
            }
            Fd in(::openat(src, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
            Fd out(::openat(dst, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                            0600));
            if (!in || !out) throw_errno("cannot copy " + where);
            copy_data(in.get(), out.get(), st.st_size, where);
            record_owner(in.get(), out.get(), st);
            if (st.st_nlink > 1)
                links_[{st.st_dev, st.st_ino}] =
                    "/proc/self/fd/" + std::to_string(dst) + "/" + name;
        } else if (S_ISLNK(st.st_mode)) {
            std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
            ssize_t n = ::readlinkat(src, name.c_str(), target.data(), target.size());
            if (n < 0) throw_errno("cannot read link " + where);
            target.resize(static_cast<size_t>(n));
            if (::symlinkat(target.c_str(), dst, name.c_str()) != 0)
                throw_errno("cannot create " + where);
            meta(dst, name, st, true);
            return;
        } else if (::mknodat(dst, name.c_str(), st.st_mode, st.st_rdev) != 0) {
            if (errno == EPERM) return; // device nodes need real root
            throw_errno("cannot create " + where);
        }
        meta(dst, name, st, false);
    }

    void record_owner(int in, int out, const struct stat& st) {
        char owner[64];
        ssize_t on = ::fgetxattr(in, layer::kOwnerXattr, owner, sizeof owner);
        if (on > 0) {
            ::fsetxattr(out, layer::kOwnerXattr, owner, static_cast<size_t>(on), 0);
        } else if (record_owners_ && (st.st_uid != 0 || st.st_gid != 0)) {
            auto v = std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
            ::fsetxattr(out, layer::kOwnerXattr, v.data(), v.size(), 0);
        }
    }

    bool privileged_;
    bool record_owners_;
    std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

} // namespace

// flatten() in this process (as the user, or as root of a user namespace over the layers)
void flatten_layers(const store::Store& store, const std::vector<oci::Digest>& diff_ids,
                    const std::string& dest, bool privileged, bool record_owners);

void flatten(const store::Store& store, const std::vector<oci::Digest>& diff_ids,
             const std::string& dest, bool privileged) {
    // layers holding subordinate ids (a rootless store, owners applied: store/owned_tree.hpp)
    // are read where the user is root over them: a 0700 directory of uid 1000 included; the
    // copy is the user's, each file's owner recorded as the layer recorded it
    if (!privileged) {
        bool owned = false;
        for (auto& id : diff_ids) owned = owned || store::layer_owners_applied(store, id);
        auto maps = owned ? store::owner_maps() : store::SubIdMaps{};
        if (!maps.empty()) {
            userns::run_in_userns(maps.uids, maps.gids, "flattening the image's layers", [&] {
                flatten_layers(store, diff_ids, dest, false, true);
                return std::string();
            });
            return;
        }
    }
    flatten_layers(store, diff_ids, dest, privileged, false);
}

void flatten_layers(const store::Store& store, const std::vector<oci::Digest>& diff_ids,
                    const std::string& dest, bool privileged, bool record_owners) {
    fs::make_dirs(dest);
    Fd dst(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dst) throw_errno("cannot open " + dest);
    for (auto& id : diff_ids) {
        if (!store.has_layer(id))
            throw Error(Errc::not_found, "layer " + id.str() + " is not unpacked in the store",
                        "run `gantry system fsck`, then load or pull the image again");
        Fd src(::open(store.layer_rootfs(id).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!src) throw_errno("cannot open layer " + id.str());
        Copier(privileged, record_owners).dir(src.get(), dst.get(), dest);
        struct stat st {};
        if (::fstat(src.get(), &st) == 0) ::fchmod(dst.get(), st.st_mode & 07777);
    }
}

std::string read_image_file(const store::Store& store, const std::vector<oci::Digest>& diff_ids,
                            const std::string& path) {
    Fd f(open_image_file(store, diff_ids, path));
    return f ? fs::read_stream(f.get(), 1 << 20, path + " in the image") : std::string();
}

int open_image_file(const store::Store& store, const std::vector<oci::Digest>& diff_ids,
                    const std::string& path) {
    for (auto it = diff_ids.rbegin(); it != diff_ids.rend(); ++it) {
        Fd root(::open(store.layer_rootfs(*it).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root) continue;
        Fd f(fs::openat_in_root(root.get(), path, O_RDONLY));
        if (!f) continue;
        struct stat st {};
        ::fstat(f.get(), &st);
        if (is_whiteout(st) || !S_ISREG(st.st_mode)) return -1;
        return f.release();
    }
    return -1;
}

void walk_image_files(const store::Store& store, const std::vector<oci::Digest>& diff_ids,
                      const std::function<void(const std::string&, const std::string&)>& fn) {
    std::set<std::string> seen;   // paths decided by an upper layer (files, whiteouts)
    std::set<std::string> opaque; // directories an upper layer made opaque
    for (auto it = diff_ids.rbegin(); it != diff_ids.rend(); ++it) {
        std::string base = store.layer_rootfs(*it).string();
        std::vector<std::string> stack{""};
        std::set<std::string> new_opaque;
        while (!stack.empty()) {
            std::string rel = stack.back();
            stack.pop_back();
            std::string dir = rel.empty() ? base : base + "/" + rel;
            DIR* d = ::opendir(dir.c_str());
            if (!d) continue;
            while (dirent* e = ::readdir(d)) {
                std::string n = e->d_name;
                if (n == "." || n == "..") continue;
                std::string p = rel.empty() ? n : rel + "/" + n;
                bool hidden = seen.count(p) > 0;
                for (auto& o : opaque)
                    if (p.starts_with(o + "/")) hidden = true;
                struct stat st {};
                if (::lstat((dir + "/" + n).c_str(), &st) != 0) continue;
                if (S_ISDIR(st.st_mode)) {
                    char v[4] = {};
                    if (::lgetxattr((dir + "/" + n).c_str(), layer::kOpaqueXattr, v, sizeof v) >
                            0 &&
                        v[0] == 'y')
                        new_opaque.insert(p);
                    if (!hidden) stack.push_back(p);
                    continue;
                }
                if (hidden) continue;
                seen.insert(p);
                if (S_ISREG(st.st_mode)) fn(p, dir + "/" + n);
            }
            ::closedir(d);
        }
        opaque.insert(new_opaque.begin(), new_opaque.end());
    }
}

bool image_has(const store::Store& store, const std::vector<oci::Digest>& diff_ids,
               const std::string& path) {
    for (auto it = diff_ids.rbegin(); it != diff_ids.rend(); ++it) {
        Fd root(::open(store.layer_rootfs(*it).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root) continue;
        Fd f(fs::openat_in_root(root.get(), path, O_PATH | O_NOFOLLOW));
        if (!f) continue;
        struct stat st {};
        ::fstat(f.get(), &st);
        return !is_whiteout(st);
    }
    return false;
}

std::vector<std::string> list_image_dir(const store::Store& store,
                                        const std::vector<oci::Digest>& diff_ids,
                                        const std::string& dir) {
    std::set<std::string> names, hidden;
    for (auto it = diff_ids.rbegin(); it != diff_ids.rend(); ++it) {
        Fd root(::open(store.layer_rootfs(*it).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root) continue;
        Fd d(fs::openat_in_root(root.get(), dir, O_RDONLY | O_DIRECTORY));
        if (!d) continue;
        DIR* dp = ::fdopendir(::fcntl(d.get(), F_DUPFD_CLOEXEC, 0));
        if (!dp) continue;
        while (dirent* e = ::readdir(dp)) {
            std::string n = e->d_name;
            if (n == "." || n == ".." || hidden.count(n)) continue;
            struct stat st {};
            if (::fstatat(d.get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && is_whiteout(st))
                hidden.insert(n);
            else
                names.insert(n);
        }
        ::closedir(dp);
        char v[4] = {};
        if (::fgetxattr(d.get(), layer::kOpaqueXattr, v, sizeof v) > 0 && v[0] == 'y') break;
    }
    return {names.begin(), names.end()};
}

} // namespace gantry::rootfs

namespace gantry::rootfs {

bool LayerFiles::has(const std::string& path) const {
    return image_has(store_, ids_, path);
}

std::string LayerFiles::read(const std::string& path) const {
    return read_image_file(store_, ids_, path);
}

std::vector<std::string> LayerFiles::list(const std::string& dir) const {
    return list_image_dir(store_, ids_, dir);
}

int LayerFiles::open(const std::string& path) const {
    return open_image_file(store_, ids_, path);
}

} // namespace gantry::rootfs
