#include "image_build/copy_step.hpp"

#include "image_build/layer_commit.hpp"
#include "image_build/upper_layer.hpp"
#include "layer/extract.hpp"
#include "layer/file_holes.hpp"
#include "layer/tar_reader.hpp"
#include "rootfs/rootfs.hpp"
#include "store/layer_writer.hpp"
#include "store/owned_tree.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <archive.h>
#include <archive_entry.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <map>
#include <set>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace gantry::image_build {
namespace {

namespace stdfs = std::filesystem;
using Owner = std::pair<std::uint32_t, std::uint32_t>;

std::string clean_dest(const std::string& dest) { // "/a//b/" -> "a/b"
    std::string out;
    for (const auto& s : clean_segments(dest)) out = text::join_path(out, s);
    return out;
}

struct Writer {
    store::Store& store;
    const WorkImage& image;
    const CopyRequest& req;
    store::LayerWriter out;
    std::set<std::string> dirs; // directories written (or decided) already
    std::map<std::pair<dev_t, ino_t>, std::string> links;

    Writer(store::Store& s, const WorkImage& i, const CopyRequest& r)
        : store(s), image(i), req(r), out(s) {}

    // SPARSE adds the entry's sparse map, before it is written.
    void header(const std::string& path, struct stat st, const char* symlink = nullptr,
                const char* hardlink = nullptr,
                const std::function<void(archive_entry*)>& sparse = {}) {
        if (req.epoch && st.st_mtime > *req.epoch) st.st_mtime = static_cast<time_t>(*req.epoch);
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, (S_ISDIR(st.st_mode) ? path + "/" : path).c_str());
        archive_entry_copy_stat(e, &st);
        archive_entry_unset_atime(e);
        archive_entry_unset_ctime(e);
        archive_entry_unset_birthtime(e);
        if (symlink) archive_entry_copy_symlink(e, symlink);
        if (hardlink) {
            archive_entry_set_size(e, 0);
            archive_entry_copy_hardlink(e, hardlink);
        }
        if (!S_ISREG(st.st_mode) || hardlink) archive_entry_set_size(e, 0);
        try {
            if (sparse) sparse(e);
            out.header(e);
        } catch (...) {
            archive_entry_free(e);
            throw;
        }
        archive_entry_free(e);
    }

    // The directories above (and including, when `self`) PATH: from the image when it has
    // them, else made 0755 (OWNER's for the destination itself, as BuildKit's --chown does).
    void parents(const std::string& path, bool self, std::optional<Owner> owner) {
        auto segs = clean_segments(path);
        std::string cur;
        for (std::size_t i = 0; i < segs.size(); ++i) {
            if (i + 1 == segs.size() && !self) break;
            cur = text::join_path(cur, segs[i]);
            if (!dirs.insert(cur).second) continue;
            auto st = stat_in_image(store, image, cur);
            if (!st || !S_ISDIR(st->st_mode)) {
                struct stat d {};
                d.st_mode = S_IFDIR | 0755;
                d.st_mtime = req.epoch ? static_cast<time_t>(*req.epoch) : ::time(nullptr);
                if (owner && i + 1 == segs.size()) {
                    d.st_uid = owner->first;
                    d.st_gid = owner->second;
                }
                header(cur, d);
            } else {
                header(cur, *st);
            }
        }
    }

    struct stat adjust(struct stat st, const std::string& host, bool keep) const {
        if (!keep) {
            st.st_uid = st.st_gid = 0;
        } else if (!apply_recorded_owner(host, st) && !req.privileged && st.st_uid == ::geteuid()) {
            st.st_uid = st.st_gid = 0; // a rootless stage tree: the caller's files are root's
        }
        if (req.chown) {
            st.st_uid = req.chown->first;
            st.st_gid = req.chown->second;
        }
        if (req.chmod && !S_ISLNK(st.st_mode))
            st.st_mode = (st.st_mode & S_IFMT) | (*req.chmod & 07777);
        return st;
    }

    // A file of the context: its header, then its bytes (a vast sparse file keeps its holes).
    void file(const std::string& host, const std::string& dest, const struct stat& st) {
        Fd fd(::open(host.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) throw_errno("cannot read " + host);
        std::vector<layer::DataRegion> regions;
        header(dest, st, nullptr, nullptr, [&](archive_entry* e) {
            regions = layer::keep_vast_holes(e, fd.get(), st.st_size, host);
        });
        layer::stream_file(
            fd.get(), regions, st.st_size, [&](const void* p, std::size_t n) { out.data(p, n); },
            host);
    }

    // One entry of a source tree: HOST on this machine, REL its path in the context (for
    // .dockerignore), DEST its path in the image.
    void entry(const CopySource& src, const std::string& host, const std::string& rel,
               const std::string& dest) {
        if (src.ignore && !rel.empty() && src.ignore->excluded(rel)) return;
        struct stat raw {};
        if (::lstat(host.c_str(), &raw) != 0) throw_errno("cannot read " + host);
        struct stat st = adjust(raw, host, src.keep_owners);
        if (S_ISDIR(raw.st_mode)) {
            if (!dest.empty() && dirs.insert(dest).second) header(dest, st);
            std::vector<std::string> names;
            std::error_code ec;
            for (const auto& d : stdfs::directory_iterator(host, ec))
                names.push_back(d.path().filename());
            if (ec) throw Error(Errc::io, "cannot read " + host + ": " + ec.message());
            std::sort(names.begin(), names.end());
            for (const auto& n : names)
                entry(src, host + "/" + n, text::join_path(rel, n), text::join_path(dest, n));
        } else if (S_ISLNK(raw.st_mode)) {
            std::string target(static_cast<std::size_t>(raw.st_size) + 1, '\0');
            ssize_t n = ::readlink(host.c_str(), target.data(), target.size());
            if (n < 0) throw_errno("cannot read the link " + host);
            target.resize(static_cast<std::size_t>(n));
            header(dest, st, target.c_str());
        } else if (S_ISREG(raw.st_mode)) {
            if (raw.st_nlink > 1) {
                auto [it, fresh] = links.emplace(std::make_pair(raw.st_dev, raw.st_ino), dest);
                if (!fresh) return header(dest, st, nullptr, it->second.c_str());
            }
            file(host, dest, st);
        } else if (src.keep_owners) { // a stage's fifos and devices, as they are
            header(dest, st);
        }
        // sockets, fifos and devices in a context are not copied (as BuildKit)
    }

    // ADD of a local archive: its members under DEST.
    bool archive(const std::string& host, const std::string& dest) {
        struct archive* a = archive_read_new();
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_bzip2(a);
        archive_read_support_filter_xz(a);
        archive_read_support_filter_lzma(a);
        archive_read_support_filter_zstd(a);
        archive_read_support_format_tar(a);
        archive_read_support_format_gnutar(a);
        struct Closer {
            struct archive* a;
            ~Closer() { archive_read_free(a); }
        } closer{a};
        if (archive_read_open_filename(a, host.c_str(), 1 << 16) != ARCHIVE_OK) return false;
        archive_entry* e = nullptr;
        int r = archive_read_next_header(a, &e);
        if (r != ARCHIVE_OK) return false; // not a tar: copied as a file
        std::vector<std::string> segs;
        for (; r == ARCHIVE_OK; r = archive_read_next_header(a, &e)) {
            std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
            if (!layer::normalize_entry_path(name, segs))
                throw Error(Errc::invalid, req.what + ": " + host + " holds \"" + name +
                                               "\", a path that leaves the destination");
            if (segs.empty()) continue;
            std::string rel;
            for (const auto& s : segs) rel = text::join_path(rel, s);
            std::string path = text::join_path(dest, rel);
            parents(path, false, std::nullopt);
            struct stat st = *archive_entry_stat(e);
            if (req.chown) {
                st.st_uid = req.chown->first;
                st.st_gid = req.chown->second;
            }
            const char* hl = archive_entry_hardlink(e);
            std::string hard;
            if (hl) {
                if (!layer::normalize_entry_path(hl, segs) || segs.empty())
                    throw Error(Errc::invalid,
                                req.what + ": " + host + " links to \"" + hl + "\" outside it");
                for (const auto& s : segs) hard = text::join_path(hard, s);
                hard = text::join_path(dest, hard);
            }
            if (S_ISDIR(st.st_mode)) dirs.insert(path);
            // a sparse member keeps its holes (its map copied, as `import` keeps them)
            bool data = S_ISREG(st.st_mode) && !hl;
            if (data)
                layer::refuse_vast_sparse(e, req.what + ": " + host, "a layer gantry writes",
                                          layer::kMaxKeptSparse);
            header(path, st, archive_entry_symlink(e), hl ? hard.c_str() : nullptr,
                   [&](archive_entry* to) {
                       if (!data) return;
                       la_int64_t o = 0, l = 0;
                       archive_entry_sparse_reset(e);
                       while (archive_entry_sparse_next(e, &o, &l) == ARCHIVE_OK)
                           archive_entry_sparse_add_entry(to, o, l);
                   });
            if (data) {
                auto write = [&](const void* p, std::size_t n) { out.data(p, n); };
                const void* buf;
                std::size_t size;
                la_int64_t off;
                std::int64_t pos = 0;
                int d;
                // each block at its offset: the holes before it as zeros
                while ((d = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
                    layer::zero_fill(pos, off, write);
                    out.data(buf, size);
                    pos += static_cast<std::int64_t>(size);
                }
                if (d != ARCHIVE_EOF)
                    throw Error(Errc::invalid,
                                req.what + ": " + host + ": " + archive_error_string(a));
                layer::zero_fill(pos, st.st_size, write);
            }
        }
        if (r != ARCHIVE_EOF)
            throw Error(Errc::invalid, req.what + ": " + host + ": " + archive_error_string(a));
        return true;
    }
};

WorkLayer finish(store::Store& store, Writer& w, bool privileged) {
    auto [blob, diff] = w.out.finish();
    WorkLayer layer{blob, diff, static_cast<std::int64_t>(w.out.blob_size()), ""};
    unpack_layer(store, layer, privileged);
    return layer;
}

} // namespace

std::optional<struct stat> stat_in_image(const store::Store& store, const WorkImage& image,
                                         const std::string& path) {
    for (auto it = image.layers.rbegin(); it != image.layers.rend(); ++it) {
        Fd root(::open(store.layer_rootfs(it->diff_id).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root) continue;
        Fd f(fs::openat_in_root(root.get(), path, O_PATH));
        std::optional<struct stat> found;
        if (!f && errno == EACCES && store::layer_owners_applied(store, it->diff_id)) {
            // under a directory a subordinate id closed to the user (store/owned_tree.hpp)
            auto maps = store::owner_maps();
            if (!maps.empty())
                found = store::stat_in_userns(store.layer_rootfs(it->diff_id), path, maps);
            if (!found) continue;
        } else {
            if (!f) continue;
            struct stat st {};
            if (::fstat(f.get(), &st) != 0) continue;
            // the owner the container sees: recorded, or the one on disk mapped
            if (!apply_recorded_owner("/proc/self/fd/" + std::to_string(f.get()), st))
                store::to_container_ids(st);
            found = st;
        }
        if (S_ISCHR(found->st_mode) && found->st_rdev == 0) return std::nullopt; // whiteout
        return found;
    }
    return std::nullopt;
}

WorkLayer copy_layer(store::Store& store, const WorkImage& image, const CopyRequest& req) {
    Writer w(store, image, req);
    std::string dest = clean_dest(req.dest);
    bool into_dir = req.dest_is_dir || req.sources.size() > 1;
    if (!into_dir && !dest.empty()) {
        auto st = stat_in_image(store, image, dest);
        into_dir = st && S_ISDIR(st->st_mode);
    }
    if (req.sources.size() > 1 && !req.dest_is_dir && !into_dir)
        throw Error(Errc::invalid,
                    req.what + ": with more than one source the destination must end in \"/\"",
                    "write the destination as " + req.dest + "/");
    for (const auto& src : req.sources) {
        std::string host = src.path.empty() ? src.root.string() : (src.root / src.path).string();
        struct stat st {};
        if (::lstat(host.c_str(), &st) != 0) throw_errno(req.what + ": cannot read " + host);
        std::string base = stdfs::path(src.path).filename().string();
        if (S_ISDIR(st.st_mode)) { // its contents, into dest
            w.parents(dest, true, req.chown);
            w.entry(src, host, src.path, dest);
            continue;
        }
        std::string target = into_dir ? text::join_path(dest, base) : dest;
        if (req.extract_archives && !src.remote && S_ISREG(st.st_mode)) {
            w.parents(dest, true, req.chown);
            if (w.archive(host, dest)) continue;
            target = into_dir ? text::join_path(dest, base) : dest;
        }
        if (target.empty())
            throw Error(Errc::invalid, req.what + ": cannot copy the file " + src.path + " onto /",
                        "name a destination file or directory");
        w.parents(target, false, into_dir ? req.chown : std::nullopt);
        w.entry(src, host, src.path, target);
    }
    return finish(store, w, req.privileged);
}

std::optional<WorkLayer> mkdir_layer(store::Store& store, const WorkImage& image,
                                     const std::string& dir, std::optional<Owner> owner,
                                     std::optional<std::int64_t> epoch, bool privileged) {
    std::string d = clean_dest(dir);
    if (d.empty()) return std::nullopt;
    auto st = stat_in_image(store, image, d);
    if (st && S_ISDIR(st->st_mode)) return std::nullopt;
    CopyRequest req;
    req.epoch = epoch;
    req.privileged = privileged;
    Writer w(store, image, req);
    w.parents(d, true, owner);
    return finish(store, w, privileged);
}

namespace {

// The id NAME has in an /etc/passwd or /etc/group text (first field name, third the id).
std::optional<std::uint32_t> lookup_id(const std::string& text, const std::string& name) {
    for (auto line : text::lines(text)) {
        auto f = text::split(line, ':');
        if (f.size() >= 3 && f[0] == name && f[2].size() < 10 && text::all_digits(f[2]))
            return text::to_u32(f[2]);
    }
    return std::nullopt;
}

std::uint32_t one_id(const store::Store& store, const WorkImage& image, const std::string& v,
                     const char* file, const std::string& spec) {
    if (!v.empty() && v.size() < 10 && v.find_first_not_of("0123456789") == std::string::npos)
        return static_cast<std::uint32_t>(std::stoul(v));
    auto id = lookup_id(rootfs::read_image_file(store, image.diff_ids(), file), v);
    if (!id)
        throw Error(Errc::not_found,
                    "--chown=" + spec + ": no \"" + v + "\" in the image's /" + file,
                    "use numeric ids, or create the user in an earlier RUN");
    return *id;
}

} // namespace

Owner resolve_owner(const store::Store& store, const WorkImage& image, const std::string& spec) {
    auto colon = spec.find(':');
    std::string user = spec.substr(0, colon);
    if (user.empty()) throw Error(Errc::invalid, "--chown=" + spec + " names no user");
    std::uint32_t uid = one_id(store, image, user, "etc/passwd", spec);
    if (colon == std::string::npos) return {uid, uid};
    return {uid, one_id(store, image, spec.substr(colon + 1), "etc/group", spec)};
}

std::uint32_t parse_chmod(const std::string& spec) {
    if (spec.empty() || spec.size() > 5 || spec.find_first_not_of("01234567") != std::string::npos)
        throw Error(Errc::invalid, "--chmod=" + spec + " is not an octal mode",
                    "give the mode in octal, e.g. --chmod=755");
    return static_cast<std::uint32_t>(std::stoul(spec, nullptr, 8));
}

} // namespace gantry::image_build
