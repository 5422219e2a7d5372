#include "image_build/upper_layer.hpp"

#include "layer/file_holes.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <vector>

namespace gantry::image_build {
namespace {

namespace stdfs = std::filesystem;

[[noreturn]] void io_fail(const stdfs::path& p, const char* what) {
    throw Error(Errc::io, std::string(what) + " " + p.string() + ": " + std::strerror(errno));
}

bool opaque(const stdfs::path& dir) {
    for (const char* name : {"trusted.overlay.opaque", "user.overlay.opaque"}) {
        char v[4] = {};
        ssize_t n = lgetxattr(dir.c_str(), name, v, sizeof v);
        if (n == 1 && v[0] == 'y') return true;
    }
    return false;
}

std::string link_target(const stdfs::path& p) {
    std::string target(4096, '\0');
    ssize_t n = readlink(p.c_str(), target.data(), target.size());
    if (n < 0) io_fail(p, "reading the link");
    target.resize(static_cast<std::size_t>(n));
    return target;
}

struct Walker {
    std::optional<std::int64_t> epoch;
    const TarSink& sink;
    const std::set<std::string>& stubs; // mount targets and injected links
    const std::map<std::string, std::string>& injected_links;
    std::map<std::pair<dev_t, ino_t>, std::string> links;
    std::size_t count = 0;

    // rel is a mount target or lies on the way to one
    bool near_stub(const std::string& rel) const {
        auto it = stubs.lower_bound(rel);
        return it != stubs.end() && (*it == rel || it->starts_with(rel + "/"));
    }

    // What the runtime made only to mount on: an empty file at a target, or a directory at or
    // above one that holds nothing else.
    bool stub_only(const stdfs::path& p, const std::string& rel, const struct stat& st) const {
        if (!near_stub(rel)) return false;
        if (S_ISREG(st.st_mode)) return st.st_size == 0 && stubs.count(rel) > 0;
        if (S_ISLNK(st.st_mode)) {
            auto it = injected_links.find(rel);
            return it != injected_links.end() && link_target(p) == it->second;
        }
        if (!S_ISDIR(st.st_mode) || opaque(p)) return false;
        std::error_code ec;
        for (const auto& d : stdfs::directory_iterator(p, ec)) {
            struct stat cs;
            if (lstat(d.path().c_str(), &cs) != 0) return false;
            if (!stub_only(d.path(), rel + "/" + d.path().filename().string(), cs)) return false;
        }
        return !ec;
    }

    archive_entry* entry(const std::string& rel, const struct stat& st_in,
                         const stdfs::path* p = nullptr) {
        struct stat st = st_in;
        if (p) apply_recorded_owner(p->string(), st);
        ++count;
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, rel.c_str());
        archive_entry_copy_stat(e, &st);
        archive_entry_unset_atime(e);
        archive_entry_unset_ctime(e);
        archive_entry_unset_birthtime(e);
        if (epoch && st.st_mtime > *epoch) archive_entry_set_mtime(e, *epoch, 0);
        return e;
    }

    void emit(archive_entry* e) {
        sink.header(e);
        archive_entry_free(e);
    }

    void whiteout(const std::string& rel, const struct stat& st) {
        auto slash = rel.rfind('/');
        std::string dir = slash == std::string::npos ? "" : rel.substr(0, slash + 1);
        std::string base = slash == std::string::npos ? rel : rel.substr(slash + 1);
        struct stat w = st;
        w.st_mode = S_IFREG | 0644;
        w.st_size = 0;
        w.st_rdev = 0;
        emit(entry(dir + ".wh." + base, w));
    }

    void file(const stdfs::path& p, const std::string& rel, const struct stat& st) {
        archive_entry* e = entry(rel, st, &p);
        if (st.st_nlink > 1) {
            auto [it, fresh] = links.emplace(std::make_pair(st.st_dev, st.st_ino), rel);
            if (!fresh) {
                archive_entry_set_size(e, 0);
                archive_entry_copy_hardlink(e, it->second.c_str());
                emit(e);
                return;
            }
        }
        Fd fd(open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        if (!fd) {
            archive_entry_free(e);
            io_fail(p, "opening");
        }
        std::vector<layer::DataRegion> regions;
        try {
            // a vast sparse file (useradd's lastlog of a large uid) keeps its holes
            regions = layer::keep_vast_holes(e, fd.get(), st.st_size, rel);
        } catch (...) {
            archive_entry_free(e);
            throw;
        }
        sink.header(e);
        archive_entry_free(e);
        if (sink.data) layer::stream_file(fd.get(), regions, st.st_size, sink.data, p.string());
    }

    void dir(const stdfs::path& p, const std::string& prefix) {
        std::vector<std::string> names;
        std::error_code ec;
        for (const auto& d : stdfs::directory_iterator(p, ec)) names.push_back(d.path().filename());
        if (ec) throw Error(Errc::io, "reading " + p.string() + ": " + ec.message());
        std::sort(names.begin(), names.end());
        for (const auto& name : names) {
            stdfs::path child = p / name;
            std::string rel = prefix + name;
            struct stat st;
            if (lstat(child.c_str(), &st) != 0) io_fail(child, "reading");
            if (stub_only(child, rel, st)) continue;
            if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
                whiteout(rel, st);
            } else if (S_ISDIR(st.st_mode)) {
                emit(entry(rel + "/", st, &child));
                if (opaque(child)) {
                    struct stat w = st;
                    w.st_mode = S_IFREG | 0644;
                    w.st_size = 0;
                    emit(entry(rel + "/.wh..wh..opq", w));
                }
                dir(child, rel + "/");
            } else if (S_ISLNK(st.st_mode)) {
                std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
                ssize_t n = readlink(child.c_str(), target.data(), target.size());
                if (n < 0) io_fail(child, "reading the link");
                target.resize(static_cast<std::size_t>(n));
                archive_entry* e = entry(rel, st, &child);
                archive_entry_copy_symlink(e, target.c_str());
                emit(e);
            } else if (S_ISREG(st.st_mode)) {
                file(child, rel, st);
            } else {
                emit(entry(rel, st, &child)); // fifos, devices: headers only
            }
        }
    }
};

} // namespace

bool apply_recorded_owner(const std::string& path, struct stat& st) {
    char v[48] = {};
    if (lgetxattr(path.c_str(), "user.gantry.owner", v, sizeof v - 1) <= 0) return false;
    unsigned long uid = 0, gid = 0;
    if (std::sscanf(v, "%lu:%lu", &uid, &gid) != 2) return false;
    st.st_uid = static_cast<uid_t>(uid);
    st.st_gid = static_cast<gid_t>(gid);
    return true;
}

std::size_t write_upper(const stdfs::path& upper, std::optional<std::int64_t> source_date_epoch,
                        const TarSink& sink, const std::set<std::string>& stubs,
                        const std::map<std::string, std::string>& links) {
    std::set<std::string> all = stubs;
    for (const auto& [link, target] : links) all.insert(link);
    Walker w{source_date_epoch, sink, all, links, {}, 0};
    w.dir(upper, "");
    return w.count;
}

} // namespace gantry::image_build
