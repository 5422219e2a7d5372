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
// manifest, the blob's sha256 against the manifest's layer digest once every byte of it has been
// fetched (a background read of the whole blob, or a run that read it all); squashfs itself has
// no per-block digests, so a block read before then is served unverified — it is bounded and
// parsed as the hostile input every .sqsh file is (sqsh/image.hpp), and a blob that turns out not
// to match its digest is refused from then on (every later read fails, the message names the
// layer and both digests). The sparse copy is ROOT/lazy/blobs/<hex>, as for eStargz layers.
#pragma once

#include "lazy/remote_blob.hpp"
#include "oci/digest.hpp"
#include "sqsh/image.hpp"
#include "sqsh/image_tree.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gantry::lazy {

inline constexpr const char* kSquashfsMediaType = "application/vnd.gantry.image.squashfs";
inline constexpr std::uint64_t kSquashfsFetchBlock = 256u << 10; // bytes per cache block
inline constexpr std::uint64_t kSquashfsReadAhead = 1u << 20;    // the least a fetch asks for

// The blob's bytes made present in its local copy, block run by block run.
class BlockFetcher {
  public:
    BlockFetcher(std::shared_ptr<RemoteBlob> blob, oci::Digest digest, std::uint64_t size);
    // Fetches what of [offset, offset + size) the copy lacks (whole blocks, one Range request
    // per run of missing blocks); verifies the blob once it is complete. Error naming the layer.
    void ensure(std::uint64_t offset, std::size_t size);
    bool complete() const { return missing_ == 0; }
    // The blocks present, one byte each ('1' or '0'); add_present() takes such a list from
    // another process's copy of this fetcher (a confined reader) and counts its '1's present
    // (they are in the local copy). Error(invalid) for a list of another length.
    std::string present() const;
    void add_present(std::string_view blocks);

  private:
    std::shared_ptr<RemoteBlob> blob_;
    oci::Digest digest_;
    std::uint64_t size_;
    std::vector<bool> present_;
    std::uint64_t missing_;
    bool verified_ = false;
    std::string refused_; // the blob did not match its digest
};

// The tree a container runs on: the squashfs image served from its sparse copy.
class SquashfsTree final : public sqsh::Tree {
  public:
    SquashfsTree(std::shared_ptr<sqsh::Image> image, std::shared_ptr<BlockFetcher> fetcher,
                 std::shared_ptr<RemoteBlob> blob, std::string name);
    struct stat attr(std::uint64_t n) override {
        return tree_.attr(n);
    }
    int lookup(std::uint64_t dir, const char* name, std::uint64_t& n, struct stat& a) override {
        return tree_.lookup(dir, name, n, a);
    }
    std::shared_ptr<const sqsh::Image::Listing> list(std::uint64_t dir) override {
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
    // the reader's and the fetcher's (the sparse copy, opened twice)
    std::vector<int> descriptors() const override {
        auto fds = tree_.descriptors();
        fds.push_back(blob_->cache_fd());
        return fds;
    }
    std::string name() const override { return name_; }
    bool keeps_stderr() const override { return true; }
    // the tables: parsed in the serving process, confined (never in gantry's)
    void after_confinement() override { tree_.after_confinement(); }

  private:
    std::shared_ptr<sqsh::Image> image_;
    std::shared_ptr<BlockFetcher> fetcher_;
    std::shared_ptr<RemoteBlob> blob_;
    sqsh::ImageTree tree_;
    std::string name_;
};

// The store image MANIFEST as a squashfs artifact: the .sqsh written (sqsh::save) into the
// store as a blob, and an OCI manifest naming the image's config and that blob, stored; returns
// the manifest's digest. REF names the image for sqsh::save.
oci::Digest publish_squashfs(store::Store& store, const std::string& ref);

} // namespace gantry::lazy
