#include "store/tree_digest.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/hash.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace gantry::store {

namespace {

struct Walk {
    std::size_t prefix = 0; // length of the root path, the separator after it excluded
    std::vector<std::pair<std::string, std::string>> records; // path, record
    std::vector<char> buf;
    TreeDigest out;
    std::string error; // the first failure, ended the walk
    const std::unordered_set<std::string>* referenced = nullptr; // v2: data not read
};
thread_local Walk* walk = nullptr;

// major:minor of a device number, as glibc's gnu_dev_major/minor (not <sys/sysmacros.h>: its
// major and minor macros leak into the other sources of a unity build)
std::string device(dev_t d) {
    auto v = static_cast<std::uint64_t>(d);
    auto maj = ((v >> 8) & 0xfffu) | ((v >> 32) & 0xfffff000u);
    auto min = (v & 0xffu) | ((v >> 12) & 0xffffff00u);
    return std::to_string(maj) + ":" + std::to_string(min);
}

std::string hex(std::string_view v) {
    static const char* d = "0123456789abcdef";
    std::string s;
    s.reserve(v.size() * 2);
    for (unsigned char c : v) {
        s += d[c >> 4];
        s += d[c & 15];
    }
    return s;
}

// "", or the error that ends the walk. Appends "N\0name\0value-hex\0..." to rec.
std::string xattrs(const char* path, std::string& rec) {
    std::vector<char> names(4096);
    ssize_t n;
    while ((n = ::llistxattr(path, names.data(), names.size())) < 0 && errno == ERANGE)
        names.resize(names.size() * 4);
    if (n < 0) {
        if (errno == ENOTSUP)
            n = 0;
        else
            return std::string("cannot list the extended attributes of ") + path + ": " +
                   std::strerror(errno);
    }
    std::vector<std::string> sorted;
    for (ssize_t i = 0; i < n;) {
        std::string name(names.data() + i);
        i += static_cast<ssize_t>(name.size()) + 1;
        if (!name.empty()) sorted.push_back(std::move(name));
    }
    std::sort(sorted.begin(), sorted.end());
    rec += std::to_string(sorted.size());
    rec += '\0';
    std::vector<char> value(256);
    for (auto& name : sorted) {
        ssize_t v;
        while ((v = ::lgetxattr(path, name.c_str(), value.data(), value.size())) < 0 &&
               errno == ERANGE)
            value.resize(value.size() * 4);
        if (v < 0) {
            if (errno == ENODATA)
                v = 0; // removed meanwhile: an empty value, the name stays
            else
                return "cannot read the extended attribute " + name + " of " + path + ": " +
                       std::strerror(errno);
        }
        rec += name;
        rec += '\0';
        rec += hex({value.data(), static_cast<std::size_t>(v)});
        rec += '\0';
    }
    return {};
}

// The content field of a regular file, or throws.
std::string content(Walk& w, const char* path) {
    Fd fd(::open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) {
        if (errno == EACCES || errno == EPERM) { // a mode-000 file in a rootless store
            ++w.out.unreadable;
            return "unreadable";
        }
        throw_errno(std::string("cannot open ") + path);
    }
    Sha256 h;
    ssize_t n;
    while ((n = ::read(fd.get(), w.buf.data(), w.buf.size())) > 0) {
        h.update(w.buf.data(), static_cast<std::size_t>(n));
        w.out.content_bytes += static_cast<std::uint64_t>(n);
    }
    if (n < 0) throw_errno(std::string("cannot read ") + path);
    return h.hex_final();
}

int visit(const char* path, const struct stat* st, int flag, struct FTW*) {
    Walk& w = *walk;
    try {
        if (flag == FTW_NS) throw_errno(std::string("cannot examine ") + path);
        std::string rel = std::strlen(path) > w.prefix ? path + w.prefix + 1 : ".";
        char type = '?';
        switch (st->st_mode & S_IFMT) {
        case S_IFREG:
            type = 'f';
            break;
        case S_IFDIR:
            type = 'd';
            break;
        case S_IFLNK:
            type = 'l';
            break;
        case S_IFCHR:
            type = 'c';
            break;
        case S_IFBLK:
            type = 'b';
            break;
        case S_IFIFO:
            type = 'p';
            break;
        case S_IFSOCK:
            type = 's';
            break;
        }
        char mode[8];
        std::snprintf(mode, sizeof mode, "%o", static_cast<unsigned>(st->st_mode & 07777));
        std::string rec = rel;
        rec += '\0';
        rec += type;
        rec += '\0';
        rec += mode;
        rec += '\0';
        rec += std::to_string(st->st_uid) + '\0' + std::to_string(st->st_gid) + '\0';
        bool sized = type == 'f' || type == 'l';
        rec += std::to_string(sized ? st->st_size : 0) + '\0';
        if (type == 'f' && !(w.referenced && w.referenced->count(rel))) rec += content(w, path);
        if (type == 'd' && flag == FTW_DNR) { // its entries cannot be listed: say so
            ++w.out.unreadable;
            rec += "unreadable";
        }
        rec += '\0';
        if (type == 'l') {
            std::vector<char> target(static_cast<std::size_t>(st->st_size) + 2);
            ssize_t n = ::readlink(path, target.data(), target.size());
            if (n < 0) throw_errno(std::string("cannot read the link ") + path);
            rec.append(target.data(), static_cast<std::size_t>(n));
        }
        rec += '\0';
        if (type == 'c' || type == 'b') rec += device(st->st_rdev);
        rec += '\0';
        if (auto err = xattrs(path, rec); !err.empty()) throw Error(Errc::io, err);
        ++w.out.entries;
        w.records.emplace_back(std::move(rel), std::move(rec));
        return 0;
    } catch (const Error& e) {
        w.error = e.message();
    } catch (const std::exception& e) {
        w.error = std::string(path) + ": " + e.what();
    }
    return 1; // stops the walk
}

} // namespace

const char* tree_digest_scheme(TreeContent content) {
    return content == TreeContent::hashed ? kTreeDigestScheme : kTreeDigestSchemeByTarSplit;
}

std::optional<TreeContent> tree_content_of(std::string_view scheme) {
    if (scheme == kTreeDigestScheme) return TreeContent::hashed;
    if (scheme == kTreeDigestSchemeByTarSplit) return TreeContent::by_tar_split;
    return std::nullopt;
}

TreeDigest tree_digest(const std::filesystem::path& root,
                       const std::unordered_set<std::string>* referenced) {
    Walk w;
    w.referenced = referenced;
    std::string r = root.string();
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    w.prefix = r.size();
    w.buf.resize(1 << 20);
    walk = &w;
    int rc = ::nftw(r.c_str(), visit, 32, FTW_PHYS | FTW_MOUNT);
    int saved = errno;
    walk = nullptr;
    if (!w.error.empty()) throw Error(Errc::io, w.error);
    if (rc != 0) {
        errno = saved;
        throw_errno("cannot walk the tree " + r);
    }
    std::sort(w.records.begin(), w.records.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    Sha256 h;
    for (auto& rec : w.records) h.update(rec.second);
    w.out.digest = "sha256:" + h.hex_final();
    return w.out;
}

} // namespace gantry::store
