#include "lazy/squashfs_artifact.hpp"

#include "oci/image.hpp"
#include "registry/http.hpp"
#include "sqsh/write.hpp"
#include "store/images.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

#include <cstdio>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>

namespace gantry::lazy {

std::string digest_of_copy(int fd, std::uint64_t size) {
    Sha256 h;
    std::string buf(1 << 20, '\0');
    for (std::uint64_t at = 0; at < size;) {
        ssize_t n = ::pread(fd, buf.data(), std::min<std::uint64_t>(buf.size(), size - at),
                            static_cast<off_t>(at));
        if (n <= 0) return "";
        h.update(buf.data(), static_cast<std::size_t>(n));
        at += static_cast<std::uint64_t>(n);
    }
    return "sha256:" + h.hex_final();
}

BlockFetcher::BlockFetcher(std::shared_ptr<RemoteBlob> blob, oci::Digest digest, std::uint64_t size,
                           std::shared_ptr<const BlockDigests> table)
    : blob_(std::move(blob)), digest_(std::move(digest)), size_(size), table_(std::move(table)),
      block_(table_ ? table_->range_size() : kSquashfsFetchBlock),
      present_(static_cast<std::size_t>((size + block_ - 1) / block_), false),
      missing_(present_.size()) {
    if (table_ && (table_->blob_size() != size_ || table_->count() != present_.size()))
        throw Error(Errc::invalid, blob_->what() + ": its block-digest table is not this blob's");
    if (table_) checked_.assign(present_.size(), false);
}

BlockFetcher::~BlockFetcher() {
    if (damaged_) ::munmap(const_cast<int*>(damaged_), sizeof(int));
}

void BlockFetcher::all_local() {
    present_.assign(present_.size(), true);
    missing_ = 0;
    verified_ = true; // the cache entry was checked whole when it was made
    read_only_ = true;
    if (!table_) return;
    void* page =
        ::mmap(nullptr, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) throw_errno("cannot map a page for " + blob_->what());
    damaged_ = static_cast<volatile int*>(page);
}

void BlockFetcher::adopt_local() {
    if (!table_) return;
    const int fd = blob_->cache_fd();
    for (off_t at = 0; static_cast<std::uint64_t>(at) < size_;) {
        off_t data = ::lseek(fd, at, SEEK_DATA);
        if (data < 0) return; // no more data (ENXIO), or no SEEK_DATA here: nothing adopted
        off_t hole = ::lseek(fd, data, SEEK_HOLE);
        if (hole < 0) return;
        // the ranges wholly inside [data, hole)
        std::uint64_t i = (static_cast<std::uint64_t>(data) + block_ - 1) / block_;
        for (; i < present_.size(); ++i) {
            std::uint64_t end = std::min<std::uint64_t>((i + 1) * block_, size_);
            if (end > static_cast<std::uint64_t>(hole)) break;
            if (!present_[i]) present_[i] = true, --missing_;
        }
        at = hole;
    }
}

// Blocks FIRST to LAST that are in the copy but not yet checked against the table, on their
// first read: a range that does not match is fetched again (the sparse copy) or, in the
// read-only cache entry, fails the read and marks it damaged.
void BlockFetcher::check_local(std::uint64_t first, std::uint64_t last) {
    std::string buf;
    for (std::uint64_t i = first; i <= last; ++i) {
        if (checked_[i] || !present_[i]) continue;
        std::uint64_t from = i * block_;
        buf.resize(static_cast<std::size_t>(std::min<std::uint64_t>(block_, size_ - from)));
        for (std::size_t done = 0; done < buf.size();) {
            ssize_t n = ::pread(blob_->cache_fd(), buf.data() + done, buf.size() - done,
                                static_cast<off_t>(from + done));
            if (n <= 0 && read_only_) {
                *damaged_ = 1;
                throw Error(Errc::invalid, blob_->what() + ": the node's cached copy is short " +
                                               "(torn); it is removed when the container ends");
            }
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        if (!read_only_ && !table_->matches(i, buf)) { // fetched again below
            present_[i] = false, ++missing_;
            continue;
        }
        if (!table_->matches(i, buf)) {
            *damaged_ = 1;
            throw Error(Errc::invalid,
                        blob_->what() + ": bytes " + std::to_string(from) + "-" +
                            std::to_string(from + buf.size() - 1) +
                            " of the node's cached copy have digest sha256:" + Sha256::hex_of(buf) +
                            ", its block-digest table says " + table_->digest_of(i) +
                            "; none of them is served, the copy is removed when the container "
                            "ends and the next run fetches the image again");
        }
        checked_[i] = true;
    }
}

// BYTES (fetched from block FIRST on) against the table, range by range, before any is written.
void BlockFetcher::check_ranges(std::uint64_t first, const std::string& bytes) const {
    if (!table_) return;
    for (std::uint64_t at = 0; at < bytes.size(); at += block_) {
        std::uint64_t i = first + at / block_;
        std::string_view range(bytes.data() + at,
                               std::min<std::uint64_t>(block_, bytes.size() - at));
        if (table_->matches(i, range)) continue;
        std::uint64_t from = i * block_;
        throw Error(Errc::invalid, blob_->what() + ": bytes " + std::to_string(from) + "-" +
                                       std::to_string(from + range.size() - 1) +
                                       " fetched have digest sha256:" + Sha256::hex_of(range) +
                                       ", its block-digest table says " + table_->digest_of(i) +
                                       "; none of them is served");
    }
}

void BlockFetcher::ensure(std::uint64_t offset, std::size_t size) {
    ReadPriority::Reader first(&priority_); // before the lock: the background fetch yields
    std::lock_guard hold(mu_);
    ensure_locked(offset, size, 0);
}

void BlockFetcher::fetch_the_rest() {
    for (std::uint64_t b = 0; b < present_.size(); ++b) {
        priority_.wait_idle();
        std::lock_guard hold(mu_);
        if (missing_ == 0 || !refused_.empty()) return;
        if (present_[b]) continue;
        try {
            background_ = true;
            ensure_locked(b * block_, static_cast<std::size_t>(block_), kSquashfsPrefetchRun);
            background_ = false;
        } catch (const Error&) {
            background_ = false;
            return; // a container read of the block fetches it again, and says why it cannot
        }
    }
}

void BlockFetcher::ensure_locked(std::uint64_t offset, std::size_t size, std::uint64_t ahead) {
    if (!refused_.empty()) throw Error(Errc::invalid, refused_);
    if (size == 0 || offset >= size_) return;
    std::uint64_t first = offset / block_;
    std::uint64_t last = (std::min<std::uint64_t>(offset + size, size_) - 1) / block_;
    try {
        if (!checked_.empty()) check_local(first, last);
        for (std::uint64_t b = first; b <= last;) {
            if (present_[b]) {
                ++b;
                continue;
            }
            std::uint64_t end = b; // a run of missing blocks: one Range request
            while (end + 1 <= last && !present_[end + 1]) ++end;
            // read ahead (the kernel reads 128 KiB at a time): a container's read by its
            // stream's window (1 MiB, growing to 4 MiB while it reads on through the blob)
            std::uint64_t want = ahead != 0 ? ahead : read_ahead_.on_miss(b * block_);
            while (end + 1 < present_.size() && !present_[end + 1] && (end + 1 - b) * block_ < want)
                ++end;
            std::uint64_t from = b * block_;
            std::uint64_t to = std::min<std::uint64_t>((end + 1) * block_, size_);
            if (ahead == 0) read_ahead_.fetched(from, to);
            std::string bytes = blob_->fetch(from, static_cast<std::size_t>(to - from));
            if (bytes.size() != to - from)
                throw Error(Errc::invalid, blob_->what() + ": the registry sent " +
                                               std::to_string(bytes.size()) + " bytes for " +
                                               std::to_string(to - from) + " asked");
            check_ranges(b, bytes);
            if (!checked_.empty())
                for (std::uint64_t i = b; i <= end; ++i) checked_[i] = true;
            for (std::size_t done = 0; done < bytes.size();) {
                ssize_t w = ::pwrite(blob_->cache_fd(), bytes.data() + done, bytes.size() - done,
                                     static_cast<off_t>(from + done));
                if (w <= 0) throw_errno(blob_->what() + ": cannot write its local copy");
                done += static_cast<std::size_t>(w);
            }
            for (; b <= end; ++b) present_[b] = true, --missing_;
        }
        // with a table every range was checked against it (and the manifest covers the table)
        if (missing_ == 0 && table_) verified_ = true;
        if (missing_ == 0 && !verified_) { // complete now: the blob is what the manifest says
            std::string got = digest_of_copy(blob_->cache_fd(), size_);
            if (got.empty()) throw_errno(blob_->what() + ": cannot read its local copy");
            if (got != digest_.str()) {
                refused_ = blob_->what() + ": the squashfs blob fetched has digest " + got +
                           ", the manifest says " + digest_.str() + "; no more of it is served";
                throw Error(Errc::invalid, refused_);
            }
            verified_ = true;
        }
    } catch (const Error& e) { // the reader (libsquashfs) only sees a failed read: say why here
        if (report_ && !background_) std::fprintf(stderr, "gantry: %s\n", e.what());
        throw;
    }
}

void SquashfsTree::after_confinement() {
    registry::exit_when_orphaned(::getppid()); // as lazy::Tree's (a transfer in flight)
    tree_.after_confinement();
    if (!prefetch_ || fetcher_->complete()) return;
    auto f = fetcher_;
    std::thread([f] { f->fetch_the_rest(); }).detach(); // ends with the serving process
}

std::string BlockFetcher::present() const {
    std::string out(present_.size(), '0');
    for (std::size_t i = 0; i < present_.size(); ++i)
        if (present_[i]) out[i] = '1';
    return out;
}

void BlockFetcher::add_present(std::string_view blocks) {
    if (blocks.size() != present_.size())
        throw Error(Errc::invalid, blob_->what() + ": the squashfs reader's list of its blocks "
                                                   "has the wrong length");
    for (std::size_t i = 0; i < blocks.size(); ++i)
        if (blocks[i] == '1' && !present_[i]) present_[i] = true, --missing_;
}

SquashfsTree::SquashfsTree(std::shared_ptr<sqsh::Image> image,
                           std::shared_ptr<BlockFetcher> fetcher, std::shared_ptr<RemoteBlob> blob,
                           std::string name)
    : image_(std::move(image)), fetcher_(std::move(fetcher)), blob_(std::move(blob)), tree_(image_),
      name_(std::move(name)) {
    auto f = fetcher_;
    image_->set_before_read([f](std::uint64_t off, std::size_t n) { f->ensure(off, n); });
}

oci::Digest publish_squashfs(store::Store& store, const std::string& ref) {
    oci::Digest manifest_digest = store::resolve(store, ref);
    auto manifest = oci::Manifest::parse(store.read_blob(manifest_digest));
    std::filesystem::create_directories(store.tmp_dir());
    auto file = store.tmp_dir() / ("push-" + manifest_digest.hex().substr(0, 16) + ".sqsh");
    sqsh::save(store, ref, file.string());
    struct Unlink {
        std::string path;
        ~Unlink() { ::unlink(path.c_str()); }
    } unlink_later{file.string()};
    Fd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) throw_errno("cannot open " + file.string());
    auto pending = store.begin_blob();
    Sha256 h;
    BlockDigests::Writer table;
    std::uint64_t size = 0;
    std::string buf(1 << 20, '\0');
    for (ssize_t n; (n = ::read(in.get(), buf.data(), buf.size())) != 0;) {
        if (n < 0) throw_errno("cannot read " + file.string());
        h.update(buf.data(), static_cast<std::size_t>(n));
        table.update(buf.data(), static_cast<std::size_t>(n));
        for (ssize_t done = 0; done < n;) {
            ssize_t w =
                ::write(pending.fd(), buf.data() + done, static_cast<std::size_t>(n - done));
            if (w <= 0) throw_errno("cannot write a blob of the store");
            done += w;
        }
        size += static_cast<std::uint64_t>(n);
    }
    oci::Digest digest = oci::Digest::from_hex(h.hex_final());
    pending.commit(digest);
    oci::Manifest out;
    out.media_type = oci::media::oci_manifest;
    out.config = manifest.config;
    out.config.media_type = oci::media::oci_config;
    oci::Descriptor d;
    d.media_type = kSquashfsMediaType;
    d.digest = digest;
    d.size = static_cast<std::int64_t>(size);
    out.layers.push_back(std::move(d));
    std::string table_bytes = table.finish();
    oci::Descriptor t;
    t.media_type = kBlockDigestsMediaType;
    t.digest = store.put_blob(table_bytes);
    t.size = static_cast<std::int64_t>(table_bytes.size());
    out.layers.push_back(std::move(t));
    out.annotations = manifest.annotations;
    return store.put_blob(out.to_json().dump());
}

} // namespace gantry::lazy
