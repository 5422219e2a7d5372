// Store: gantry's content-addressed image store.
//
//   ROOT/blobs/sha256/<hex>           verified blobs (manifests, configs, layer blobs)
//   ROOT/layers/sha256/<diffid>/      one unpacked layer: rootfs/ (the tree) + meta.json
//   ROOT/refs.json                    {"refs": {"docker.io/library/busybox:latest": "sha256:…"},
//                                      "indexes": {NAME: "sha256:<index>"}} (store/platforms.hpp)
//   ROOT/tmp/                         work in progress; renamed into place when verified
//   ROOT/locks/{refs,gc}              flock files
//   ROOT/locks/image-<hex>            use holds: shared flocks of running containers' images
//   ROOT/holds/<name>                 detached containers using an image (kept until `rm`)
//
// Every write goes to tmp/ and is renamed into place only after its digest was verified, so a
// crash (even kill -9) leaves either the old or the new state. Writers hold the gc lock shared
// for their whole run; garbage collection takes it exclusively, so it never deletes what an
// import in flight is about to reference.
#pragma once

#include "oci/digest.hpp"
#include "util/fd.hpp"
#include "util/lock.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace gantry::store {

namespace stdfs = std::filesystem;
using oci::Digest;
using RefMap = std::map<std::string, Digest>; // full reference -> manifest digest
// A name holding images of several platforms (`pull --platform`, `build --platform A,B`, `load`
// of an index) has an index: an OCI image index blob listing them, one per platform
// (store/platforms.hpp). RefMap still maps the name to one of them, its default (the host's
// platform's when it holds one), so what reads one image per name reads that one. A store
// written before indexes has none: each name holds its one image.
using IndexMap = std::map<std::string, Digest>; // full reference -> index digest

// An image's sizes, recorded in refs.json beside its references when it is named (so that
// `images` reads no layer): UNPACKED is docker's SIZE, the file data of its unpacked layers
// (each layer's meta.json content_bytes; its tar size for layers unpacked before that was
// recorded); COMPRESSED its layer blobs and config, as the registry serves them.
struct ImageSize {
    std::uint64_t unpacked = 0, compressed = 0;
};
using SizeMap = std::map<Digest, ImageSize>; // manifest digest -> sizes
// IMAGE's sizes from its manifest, config and its layers' meta.json (small files: no tree is
// read); nullopt when a blob or an unpacked layer it needs is not in the store.
class Store;
std::optional<ImageSize> compute_image_size(const Store& store, const Digest& manifest);

// $GANTRY_ROOT, else /var/lib/gantry for root, else ${XDG_DATA_HOME:-~/.local/share}/gantry.
stdfs::path default_root();

// A blob being written: bytes go to a temp file; commit() verifies and renames it into place.
class PendingBlob {
  public:
    PendingBlob(PendingBlob&&) noexcept = default;
    ~PendingBlob();
    int fd() const { return fd_.get(); }
    // Renames the temp file to blobs/sha256/<hex>. The caller has verified the digest.
    void commit(const Digest& d);

  private:
    friend class Store;
    PendingBlob(stdfs::path tmp, Fd fd, stdfs::path blobs) noexcept
        : tmp_(std::move(tmp)), fd_(std::move(fd)), blobs_(std::move(blobs)) {}
    stdfs::path tmp_;
    Fd fd_;
    stdfs::path blobs_;
    bool done_ = false;
};

// A layer tree being unpacked into tmp/; commit() renames it to layers/sha256/<diffid>.
class PendingLayer {
  public:
    PendingLayer(PendingLayer&&) noexcept = default;
    ~PendingLayer();
    int rootfs_fd() const { return rootfs_.get(); }
    stdfs::path rootfs_path() const { return tmp_ / "rootfs"; } // the tree, until commit()
    // meta: JSON text stored beside the tree (sizes, counts). Another process may have
    // committed the same layer meanwhile; then this copy is discarded and commit returns false.
    bool commit(const Digest& diff_id, const std::string& meta);

    // commit for several layers with one syncfs between their meta.json and their names, and
    // one sync of layers/ after: a set whose syncfs waits until the downloads the store drops
    // are gone (Importer). Returns, for each, what commit returns.
    struct Commit {
        PendingLayer* layer;
        Digest diff_id;
        std::string meta;
    };
    static std::vector<bool> commit_all(const std::vector<Commit>& set);

  private:
    friend class Store;
    PendingLayer(stdfs::path tmp, Fd rootfs, stdfs::path layers) noexcept
        : tmp_(std::move(tmp)), rootfs_(std::move(rootfs)), layers_(std::move(layers)) {}
    stdfs::path tmp_;
    Fd rootfs_;
    stdfs::path layers_;
    bool done_ = false;
};

class Store {
  public:
    explicit Store(stdfs::path root); // creates the layout if missing
    const stdfs::path& root() const { return root_; }

    stdfs::path blob_path(const Digest& d) const;
    bool has_blob(const Digest& d) const;
    std::uint64_t blob_size(const Digest& d) const;
    // Reads a (small) blob and verifies its digest: Error(not_found) or Error(invalid) naming
    // the expected and actual digests, with `gantry system fsck` as the fix.
    std::string read_blob(const Digest& d, std::uint64_t max_size = 64u << 20) const;
    // Stores data; if `expected` is given, its digest must match (Error(invalid) otherwise).
    Digest put_blob(std::string_view data, const std::optional<Digest>& expected = {});
    // Stores data under DIGEST, which the caller computed from these very bytes (not hashed
    // again: a lazy pull's tables of contents, tens of MB, were hashed as they were verified).
    Digest put_hashed_blob(std::string_view data, const Digest& digest);
    PendingBlob begin_blob();
    // Removes a blob (gone already is fine) and syncs blobs/: for a layer blob once its layer
    // is published with a tar-split (store/layer_tar.hpp), never for one a reader needs.
    void remove_blob(const Digest& d);

    stdfs::path layer_dir(const Digest& diff_id) const;    // layers/sha256/<hex>
    stdfs::path layer_rootfs(const Digest& diff_id) const; // .../rootfs
    bool has_layer(const Digest& diff_id) const;
    PendingLayer begin_layer();

    RefMap refs() const; // a consistent snapshot (no lock needed: refs.json is replaced atomically)
    // Read-modify-write of the references under the refs lock. The sizes of the images the
    // new references name are recorded with them (compute_image_size, for those not recorded
    // yet: one write, the same atomic and durable replacement of refs.json); an image no
    // longer named loses its record.
    void update_refs(const std::function<void(RefMap&)>& change);
    // The names' indexes (store/platforms.hpp), and their read-modify-write with the
    // references. After CHANGE, an index whose name is gone, or whose name now maps to an image
    // the index does not list (a name given to another image), is dropped with it.
    IndexMap indexes() const;
    // Untagged images (docker's dangling ones, `<none>:<none>`): a commit without a name keeps
    // its image here, in refs.json's "untagged" list of manifest digests. Such an image is
    // found by its ID, listed, a root for garbage collection, removed by `rmi ID`; one given a
    // name leaves the list (it is named now).
    struct Names {
        RefMap refs;
        IndexMap indexes;
        std::set<Digest> untagged;
    };
    Names names() const; // all three from one read of refs.json
    void update_names(const std::function<void(RefMap&, IndexMap&)>& change);
    std::set<Digest> untagged() const;
    // Read-modify-write of the untagged list, under the refs lock as update_names.
    void update_untagged(const std::function<void(std::set<Digest>&)>& change);
    // The sizes recorded in refs.json (images named before sizes were recorded have none:
    // store/images.hpp's image_sizes computes and records them).
    SizeMap recorded_sizes() const;

    // Holds: named users of an image (containers) that keep it from removal and collection.
    // ROOT/holds/<name> contains the manifest digest.
    void add_hold(const std::string& name, const Digest& manifest);
    void remove_hold(const std::string& name);
    std::map<std::string, Digest> holds() const;

    // Use holds: a running process keeps an image from removal and collection by holding a
    // shared flock on ROOT/locks/image-<hex> for as long as the returned lock lives. The kernel
    // drops it when the process dies, so a crash (even kill -9) leaves no hold behind, and
    // taking one writes nothing (the lock file is created by an image's first use).
    FileLock use_image(const Digest& manifest) const;
    // The manifests some process holds with use_image() right now.
    std::set<Digest> images_in_use() const;
    // Removes the use-hold lock files nobody holds (of ONLY's manifests, or all when null), so
    // locks/ does not grow by one file per image ever run; the next use makes the file again.
    // The caller holds gc_lock(): use_image() is taken under writer_lock(), so no process is
    // between opening such a file and locking it (it would lock a removed file, unseen).
    void drop_unused_image_locks(const std::set<Digest>* only = nullptr);

    // Temporary references: a command that must name an image for a moment (`slim --check` runs
    // its check through `gantry run`) tags it kTemporaryRepository:<unique> while it holds the
    // returned lock (ROOT/locks/tmpref-<unique>). `system prune` removes such a reference once
    // nobody holds its lock, so a command killed meanwhile leaves no unchecked image named.
    static constexpr const char* kTemporaryRepository = "localhost/gantry-slim-check";
    std::pair<std::string, FileLock> temporary_ref() const;
    // Removes the temporary references whose command is gone; returns how many.
    std::size_t drop_stale_temporary_refs();

    // Removes what an atomic write killed half-way left outside tmp/ (fs::write_atomic's
    // NAME.tmp-<pid>-…): refs.json's (under the refs lock, so none is being written), and holds'
    // whose writer is no longer running. Returns how many.
    std::size_t remove_half_written();

    // Held (shared) by every command that adds to the store; exclusive for garbage collection.
    FileLock writer_lock() const;
    FileLock gc_lock() const;
    stdfs::path tmp_dir() const { return root_ / "tmp"; }
    // views/<hex>.json: what `run` reads of an image (rootfs/run_view.hpp); derived, removable
    stdfs::path views_dir() const { return root_ / "views"; }
    // what the site's policy said of each pulled image, by manifest (registry/verify.hpp)
    stdfs::path verdicts_dir() const { return root_ / "verdicts"; }

  private:
    void update_all(const std::function<void(RefMap&, IndexMap&, std::set<Digest>&)>& change);
    stdfs::path root_;
};

} // namespace gantry::store
