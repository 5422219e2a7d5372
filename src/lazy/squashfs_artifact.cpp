#include "lazy/squashfs_artifact.hpp"

#include "oci/image.hpp"
#include "sqsh/write.hpp"
#include "store/images.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

#include <cstdio>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace gantry::lazy {

BlockFetcher::BlockFetcher(std::shared_ptr<RemoteBlob> blob, oci::Digest digest, std::uint64_t size)
    : blob_(std::move(blob)), digest_(std::move(digest)), size_(size),
      present_(static_cast<std::size_t>((size + kSquashfsFetchBlock - 1) / kSquashfsFetchBlock),
               false),
      missing_(present_.size()) {}

void BlockFetcher::ensure(std::uint64_t offset, std::size_t size) {
    if (!refused_.empty()) throw Error(Errc::invalid, refused_);
    if (size == 0 || offset >= size_) return;
    std::uint64_t first = offset / kSquashfsFetchBlock;
    std::uint64_t last = (std::min<std::uint64_t>(offset + size, size_) - 1) / kSquashfsFetchBlock;
    try {
        for (std::uint64_t b = first; b <= last;) {
            if (present_[b]) {
                ++b;
                continue;
            }
            std::uint64_t end = b; // a run of missing blocks: one Range request
            while (end + 1 <= last && !present_[end + 1]) ++end;
            // read ahead to a 1 MiB run (the kernel reads 128 KiB at a time)
            while (end + 1 < present_.size() && !present_[end + 1] &&
                   (end + 1 - b) * kSquashfsFetchBlock < kSquashfsReadAhead)
                ++end;
            std::uint64_t from = b * kSquashfsFetchBlock;
            std::uint64_t to = std::min<std::uint64_t>((end + 1) * kSquashfsFetchBlock, size_);
            std::string bytes = blob_->fetch(from, static_cast<std::size_t>(to - from));
            for (std::size_t done = 0; done < bytes.size();) {
                ssize_t w = ::pwrite(blob_->cache_fd(), bytes.data() + done, bytes.size() - done,
                                     static_cast<off_t>(from + done));
                if (w <= 0) throw_errno(blob_->what() + ": cannot write its local copy");
                done += static_cast<std::size_t>(w);
            }
            for (; b <= end; ++b) present_[b] = true, --missing_;
        }
        if (missing_ == 0 && !verified_) { // complete now: the blob is what the manifest says
            Sha256 h;
            std::string buf(1 << 20, '\0');
            for (std::uint64_t at = 0; at < size_;) {
                ssize_t n =
                    ::pread(blob_->cache_fd(), buf.data(), buf.size(), static_cast<off_t>(at));
                if (n <= 0) throw_errno(blob_->what() + ": cannot read its local copy");
                h.update(buf.data(), static_cast<std::size_t>(n));
                at += static_cast<std::uint64_t>(n);
            }
            std::string got = "sha256:" + h.hex_final();
            if (got != digest_.str()) {
                refused_ = blob_->what() + ": the squashfs blob fetched has digest " + got +
                           ", the manifest says " + digest_.str() + "; no more of it is served";
                throw Error(Errc::invalid, refused_);
            }
            verified_ = true;
        }
    } catch (const Error& e) { // the reader (libsquashfs) only sees a failed read: say why here
        std::fprintf(stderr, "gantry: %s\n", e.what());
        throw;
    }
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
    std::uint64_t size = 0;
    std::string buf(1 << 20, '\0');
    for (ssize_t n; (n = ::read(in.get(), buf.data(), buf.size())) != 0;) {
        if (n < 0) throw_errno("cannot read " + file.string());
        h.update(buf.data(), static_cast<std::size_t>(n));
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
    out.annotations = manifest.annotations;
    return store.put_blob(out.to_json().dump());
}

} // namespace gantry::lazy
