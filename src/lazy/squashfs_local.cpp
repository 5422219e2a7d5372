#include "lazy/squashfs_local.hpp"

#include "lazy/store_layers.hpp"
#include "sqsh/cache.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::lazy {

bool keep_squashfs(store::Store& store, const Record& rec, const std::function<bool()>& abandoned) {
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
    auto added = sqsh::add_to_cache(store, image, fd.get(), l.size, l.digest, abandoned);
    if (added == sqsh::Added::abandoned) return false; // the copy stays: a later pull keeps it
    ::unlink(copy.c_str()); // in the cache now, or not the blob: fetched again next time
    if (added == sqsh::Added::wrong_digest) {
        log::warn("the squashfs artifact " + l.digest.str() + " of " + rec.ref +
                  " fetched is not the blob its manifest names; it will be fetched again");
        return false;
    }
    return true;
}

void complete_squashfs(store::Store& store, const Record& rec,
                       const registry::ClientOptions& client, bool quiet) {
    const auto& l = rec.layers.at(0);
    std::string what = "the squashfs artifact " + l.digest.str() + " of " + rec.ref +
                       " from registry " + rec.domain;
    if (cached_squashfs(store, rec, !l.block_digests)) return; // in the cache already
    std::shared_ptr<const BlockDigests> table;
    if (l.block_digests)
        table = std::make_shared<const BlockDigests>(BlockDigests::parse(
            store.read_blob(*l.block_digests, kMaxBlockDigestsBytes), l.size, what));
    auto path = local_copy(store, l.digest);
    fs::make_dirs(path.parent_path());
    Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd || ::ftruncate(fd.get(), static_cast<off_t>(l.size)) != 0)
        throw_errno("cannot open the local copy of " + what);
    auto blob = std::make_shared<RemoteBlob>(client_for(rec, client), rec.repository, l.digest,
                                             l.size, std::move(fd), what);
    BlockFetcher fetcher(blob, l.digest, l.size, table);
    fetcher.report_errors(false);
    fetcher.adopt_local();
    constexpr std::uint64_t kStep = 16u << 20; // one Range request covers at most this
    for (std::uint64_t at = 0; at < l.size; at += kStep)
        fetcher.ensure(at, static_cast<std::size_t>(std::min<std::uint64_t>(kStep, l.size - at)));
    if (!quiet)
        std::fprintf(stderr, "%s: %llu bytes were local, %llu fetched\n", what.c_str(),
                     static_cast<unsigned long long>(l.size - blob->fetched_bytes()),
                     static_cast<unsigned long long>(blob->fetched_bytes()));
    if (!keep_squashfs(store, rec))
        throw Error(Errc::invalid, what + " is not the blob its manifest names",
                    "pull it again: gantry pull REF fetches it anew");
}

LocalBytes squashfs_local_bytes(const store::Store& store, const Record& rec) {
    LocalBytes b;
    if (!is_squashfs(rec)) return b;
    b.total = rec.layers[0].size;
    struct stat st {};
    std::string cached = sqsh::cached_file(store, rec.manifest);
    if (::stat(cached.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) == b.total) {
        b.local = b.total;
        return b;
    }
    Fd fd(::open(local_copy(store, rec.layers[0].digest).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return b;
    for (off_t at = 0; static_cast<std::uint64_t>(at) < b.total;) {
        off_t data = ::lseek(fd.get(), at, SEEK_DATA);
        if (data < 0) break;
        off_t hole = ::lseek(fd.get(), data, SEEK_HOLE);
        if (hole < 0) break;
        b.local +=
            static_cast<std::uint64_t>(std::min<off_t>(hole, static_cast<off_t>(b.total)) - data);
        at = hole;
    }
    return b;
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
        if (!fd || digest_of_copy(fd.get(), l.size) != l.digest.str()) {
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
