#include "lazy/squashfs_local.hpp"

#include "lazy/store_layers.hpp"
#include "sqsh/cache.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::lazy {

namespace {

bool matches(int fd, std::uint64_t size, const oci::Digest& digest) {
    Sha256 h;
    std::string buf(1 << 20, '\0');
    for (std::uint64_t at = 0; at < size;) {
        ssize_t n = ::pread(fd, buf.data(), std::min<std::uint64_t>(buf.size(), size - at),
                            static_cast<off_t>(at));
        if (n <= 0) return false;
        h.update(buf.data(), static_cast<std::size_t>(n));
        at += static_cast<std::uint64_t>(n);
    }
    return "sha256:" + h.hex_final() == digest.str();
}

} // namespace

bool keep_squashfs(store::Store& store, const Record& rec) {
    if (!is_squashfs(rec)) return false;
    const auto& l = rec.layers[0];
    auto copy = local_copy(store, l.digest);
    Fd fd(::open(copy.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return false;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) != l.size)
        return false;
    off_t hole = ::lseek(fd.get(), 0, SEEK_HOLE);
    if (l.size > 0 && (hole < 0 || static_cast<std::uint64_t>(hole) < l.size))
        return false; // not all fetched yet
    sqsh::CacheImage image{rec.ref, rec.manifest, store.read_blob(rec.manifest), rec.config,
                           store.read_blob(rec.config)};
    auto added = sqsh::add_to_cache(store, image, fd.get(), l.size, l.digest);
    ::unlink(copy.c_str()); // in the cache now, or not the blob: fetched again next time
    if (added == sqsh::Added::wrong_digest) {
        log::warn("the squashfs artifact " + l.digest.str() + " of " + rec.ref +
                  " fetched is not the blob its manifest names; it will be fetched again");
        return false;
    }
    return true;
}

std::optional<std::string> cached_squashfs(const store::Store& store, const Record& rec,
                                           bool whole) {
    if (!is_squashfs(rec)) return std::nullopt;
    const auto& l = rec.layers[0];
    std::string file = sqsh::cached_file(store, rec.manifest);
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<std::uint64_t>(st.st_size) != l.size)
        return std::nullopt;
    if (whole) {
        Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd || !matches(fd.get(), l.size, l.digest)) {
            log::warn("the node's cached copy " + file + " of " + rec.ref +
                      " is not the blob its manifest names; removed, fetched again");
            sqsh::remove_cached(store, rec.manifest);
            return std::nullopt;
        }
    }
    sqsh::touch_cached(file);
    return file;
}

} // namespace gantry::lazy
