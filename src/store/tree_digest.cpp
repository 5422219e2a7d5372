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
    const std::unordered_set<std::string>* referenced = nullptr; // v2, v4: data not read
    DataHash data = DataHash::zero_runs;
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

// A file's data hashed as zero runs (tree_digest.hpp's DataHash): its blocks in order, the
// holes SEEK_DATA and SEEK_HOLE report counted without being read.
class ZeroRunHash {
  public:
    static constexpr off_t kBlock = 4096;

    void zero_blocks(std::uint64_t n) { zeros_ += n; }
    void block(const char* p, std::size_t n) {
        bool zero = true;
        for (std::size_t i = 0; i < n && zero; ++i) zero = p[i] == 0;
        if (zero) return zero_blocks(1);
        flush();
        h_.update("d", 1);
        h_.update(p, n);
    }
    std::string hex_final() {
        flush();
        return h_.hex_final();
    }

  private:
    void flush() {
        if (zeros_ == 0) return;
        unsigned char le[9] = {'z'};
        for (int i = 0; i < 8; ++i) le[1 + i] = static_cast<unsigned char>(zeros_ >> (8 * i));
        h_.update(le, sizeof le);
        zeros_ = 0;
    }
    Sha256 h_;
    std::uint64_t zeros_ = 0;
};

std::uint64_t blocks_in(off_t bytes) {
    return static_cast<std::uint64_t>((bytes + ZeroRunHash::kBlock - 1) / ZeroRunHash::kBlock);
}

// Where the data after OFF begins (SIZE: none), and where the hole after it begins: what
// the file system says, or [OFF, SIZE) where it cannot say (all of it read).
std::pair<off_t, off_t> next_data(int fd, off_t off, off_t size) {
    off_t data = ::lseek(fd, off, SEEK_DATA);
    if (data < 0) return {errno == ENXIO ? size : off, size};
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    return {std::min(data, size), hole < 0 ? size : std::min(hole, size)};
}

std::string zero_run_content(Walk& w, int fd, const char* path) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno(std::string("cannot examine ") + path);
    const off_t size = st.st_size, block = ZeroRunHash::kBlock;
    ZeroRunHash h;
    off_t off = 0; // a block boundary, or SIZE
    while (off < size) {
        auto [data, hole] = next_data(fd, off, size);
        // the whole blocks before the data are zeros: counted, not read
        off_t skip = data >= size ? size : data / block * block;
        if (skip > off) {
            h.zero_blocks(blocks_in(skip - off));
            off = skip;
            if (off >= size) break;
        }
        // the blocks that hold data, read
        off_t end = std::min(size, (std::max(hole, off + 1) + block - 1) / block * block);
        while (off < end) {
            auto want = static_cast<std::size_t>(std::min<off_t>(end - off, off_t(w.buf.size())));
            ssize_t n = ::pread(fd, w.buf.data(), want, off);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno(std::string("cannot read ") + path);
            if (n == 0) throw Error(Errc::io, std::string(path) + " changed while it was read");
            auto got = static_cast<off_t>(n);
            // a short read ends on a block boundary or at the end
            if (off + got < end && got % block != 0) got = got / block * block;
            if (got == 0) throw Error(Errc::io, std::string(path) + " changed while it was read");
            for (off_t at = 0; at < got; at += block)
                h.block(w.buf.data() + at, static_cast<std::size_t>(std::min(block, got - at)));
            w.out.content_bytes += static_cast<std::uint64_t>(got);
            off += got;
        }
    }
    return h.hex_final();
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
    if (w.data == DataHash::zero_runs) return zero_run_content(w, fd.get(), path);
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

const char* tree_digest_scheme(TreeScheme scheme) {
    bool runs = scheme.data == DataHash::zero_runs;
    if (scheme.content == TreeContent::hashed)
        return runs ? kTreeDigestSchemeRuns : kTreeDigestScheme;
    return runs ? kTreeDigestSchemeByTarSplitRuns : kTreeDigestSchemeByTarSplit;
}

std::optional<TreeScheme> tree_scheme_of(std::string_view name) {
    for (auto content : {TreeContent::hashed, TreeContent::by_tar_split})
        for (auto data : {DataHash::stream, DataHash::zero_runs})
            if (name == tree_digest_scheme({content, data})) return TreeScheme{content, data};
    return std::nullopt;
}

TreeDigest tree_digest(const std::filesystem::path& root,
                       const std::unordered_set<std::string>* referenced, DataHash data) {
    Walk w;
    w.referenced = referenced;
    w.data = data;
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
