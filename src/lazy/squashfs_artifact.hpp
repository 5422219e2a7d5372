// lazy/squashfs_artifact: gantry's single-file squashfs image published as an OCI artifact
// (`gantry push --format squashfs`) and mounted straight from the registry (`gantry run --pull
// lazy`): the squashfs reader (sqsh::Image, sqsh::ImageTree) reads a sparse local copy of the
// blob whose missing block runs are fetched by one HTTP Range request each before it reads them.
//
// The artifact: an OCI image manifest whose config is the image's config (so a run knows its
// entrypoint, env, user) and whose one layer is the .sqsh file, media type kSquashfsMediaType. A
// plain client (`docker pull`, `gantry pull`) cannot unpack it: it is gantry's format.
//
// What is verified, and when (docs/lazy-pull.md): the manifest by its digest, the config by the
// manifest. An artifact pushed since the block-digest table (lazy/squashfs_block_digests.hpp) has
// it as a second layer: fetched and checked first, then every 1 MiB range of the blob is checked
// against it before a byte of it is written to the copy or served (a range that lies fails the
// read with EIO, the message naming the layer and both digests). An artifact without the table
// (pushed by an older gantry) is checked as a whole: the blob's sha256 against the manifest's
// layer digest once every byte of it has been fetched; a block read before then is served
// unverified — it is bounded and parsed as the hostile input every .sqsh file is
// (sqsh/image.hpp) — and a blob that turns out not to match is refused from then on (every later
// read fails, the message names the layer and both digests). The sparse copy is
// ROOT/lazy/blobs/<hex>, as for eStargz layers.
#pragma once

#include "lazy/read_ahead.hpp"
#include "lazy/remote_blob.hpp"
#include "lazy/squashfs_block_digests.hpp"
#include "oci/digest.hpp"
#include "sqsh/image.hpp"
#include "sqsh/image_tree.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gantry::lazy {

inline constexpr const char* kSquashfsMediaType = "application/vnd.gantry.image.squashfs";
inline constexpr std::uint64_t kSquashfsFetchBlock = 256u << 10; // bytes per cache block
inline constexpr std::uint64_t kSquashfsReadAhead = 1u << 20;    // the least a fetch asks for
inline constexpr std::uint64_t kSquashfsMaxReadAhead = 4u << 20; // a sequential reader's window
inline constexpr std::uint64_t kSquashfsPrefetchRun = 4u << 20;  // a background request

// "sha256:<hex>" of the first SIZE bytes of FD (read with pread); "" when they cannot be read.
std::string digest_of_copy(int fd, std::uint64_t size);

// The blob's bytes made present in its local copy, block run by block run.
class BlockFetcher {
  public:
    // TABLE: the artifact's block-digest table (its ranges are the blocks, each checked before
    // it is written), or null (256 KiB blocks, the whole blob checked once complete).
    BlockFetcher(std::shared_ptr<RemoteBlob> blob, oci::Digest digest, std::uint64_t size,
                 std::shared_ptr<const BlockDigests> table = nullptr);
    ~BlockFetcher();
    BlockFetcher(const BlockFetcher&) = delete;
    BlockFetcher& operator=(const BlockFetcher&) = delete;
    // The blob is whole in its (read-only) copy, the node's cache entry (lazy/squashfs_local):
    // nothing is fetched; with a table each range is checked against it on its first read, and
    // one that does not match fails the read and marks the copy damaged().
    void all_local();
    // With a table: the ranges an earlier run wrote to the (writable) sparse copy (no hole in
    // them) count as there, each checked against the table on its first read and fetched again
    // if it does not match. Without a table it does nothing (nothing to check a range with).
    void adopt_local();
    // Whether ensure() also writes its errors to stderr (the container's reads: the reader
    // only sees a failed read); `gantry pull` reports them itself.
    void report_errors(bool on) { report_ = on; }
    // Fetches what of [offset, offset + size) the copy lacks (whole blocks, one Range request
    // per run of missing blocks); verifies the blob once it is complete. Error naming the layer.
    // A container's read: the background fetch starts no request while one waits.
    void ensure(std::uint64_t offset, std::size_t size);
    // The background fetch (in the serving process, its own thread): every missing block, in
    // blob order, kSquashfsPrefetchRun at a time, after the container's reads; ends at the
    // first error (a container read of that block then says why).
    void fetch_the_rest();
    bool complete() const { return missing_ == 0; }
    // A range of an all_local() copy did not match its table (seen by the serving process: a
    // page shared with it).
    bool damaged() const { return damaged_ != nullptr && *damaged_ != 0; }
    // The blocks present, one byte each ('1' or '0'); add_present() takes such a list from
    // another process's copy of this fetcher (a confined reader) and counts its '1's present
    // (they are in the local copy). Error(invalid) for a list of another length.
    std::string present() const;
    void add_present(std::string_view blocks);

  private:
    // AHEAD: the least a request asks for; 0: a container's read (read_ahead_'s window)
    void ensure_locked(std::uint64_t offset, std::size_t size, std::uint64_t ahead);
    void check_ranges(std::uint64_t first, const std::string& bytes) const;
    void check_local(std::uint64_t first, std::uint64_t last);
    std::shared_ptr<RemoteBlob> blob_;
    oci::Digest digest_;
    std::uint64_t size_;
    std::shared_ptr<const BlockDigests> table_;
    std::uint64_t block_;
    std::vector<bool> present_;
    std::uint64_t missing_;
    bool verified_ = false;
    std::string refused_;       // the blob did not match its digest
    std::vector<bool> checked_; // with a table: the ranges checked against it
    bool read_only_ = false;    // all_local(): the cache entry, never written
    bool report_ = true;
    bool background_ = false;         // fetch_the_rest() is fetching: its errors are not reported
    volatile int* damaged_ = nullptr; // all_local(): a shared page, so the parent sees it
    std::mutex mu_;                   // the container's reads and the background fetch
    ReadPriority priority_;
    ReadAhead read_ahead_{kSquashfsReadAhead, kSquashfsMaxReadAhead}; // under mu_
};

// The tree a container runs on: the squashfs image served from its sparse copy.
class SquashfsTree final : public fuse::Tree {
  public:
    SquashfsTree(std::shared_ptr<sqsh::Image> image, std::shared_ptr<BlockFetcher> fetcher,
                 std::shared_ptr<RemoteBlob> blob, std::string name);
    struct stat attr(std::uint64_t n) override {
        return tree_.attr(n);
    }
    int lookup(std::uint64_t dir, const char* name, std::uint64_t& n, struct stat& a) override {
        return tree_.lookup(dir, name, n, a);
    }
    std::shared_ptr<const fuse::Listing> list(std::uint64_t dir) override {
        return tree_.list(dir);
    }
    std::uint64_t node_of(std::uint64_t ref) const override { return tree_.node_of(ref); }
    std::unique_ptr<File> open(std::uint64_t n) override { return tree_.open(n); }
    std::optional<std::string> link_target(std::uint64_t n) override {
        return tree_.link_target(n);
    }
    std::vector<std::pair<std::string, std::string>> xattrs(std::uint64_t n) override {
        return tree_.xattrs(n);
    }
    struct statvfs statfs() override {
        return tree_.statfs();
    }
    void before_serving() override { blob_->close_connections(); }
    // once the serving process is confined: the tables parsed there (never in gantry's), then
    // the background fetch of the rest (set_prefetch)
    void after_confinement() override;
    void set_prefetch(bool on) { prefetch_ = on; }
    // once the server has ended (lazy/squashfs_local: the cache entry kept or removed)
    void after_serving() override {
        if (after_serving_) after_serving_(abandoned_);
    }
    using AfterServing = std::function<void(const std::function<bool()>& abandoned)>;
    void set_after_serving(AfterServing f) { after_serving_ = std::move(f); }
    void abandon_when(std::function<bool()> abandoned) override {
        abandoned_ = std::move(abandoned);
    }
    // the reader's and the fetcher's (the sparse copy, opened twice)
    std::vector<int> descriptors() const override {
        auto fds = tree_.descriptors();
        fds.push_back(blob_->cache_fd());
        return fds;
    }
    std::string name() const override { return name_; }
    bool keeps_stderr() const override { return true; }

  private:
    std::shared_ptr<sqsh::Image> image_;
    std::shared_ptr<BlockFetcher> fetcher_;
    std::shared_ptr<RemoteBlob> blob_;
    sqsh::ImageTree tree_;
    std::string name_;
    AfterServing after_serving_;
    std::function<bool()> abandoned_ = [] { return false; };
    bool prefetch_ = false;
};

// The store image MANIFEST as a squashfs artifact: the .sqsh written (sqsh::save) into the
// store as a blob with its block-digest table, and an OCI manifest naming the image's config and
// those two blobs, stored; returns the manifest's digest. REF names the image for sqsh::save.
oci::Digest publish_squashfs(store::Store& store, const std::string& ref);

} // namespace gantry::lazy
