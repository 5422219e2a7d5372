// Importer: brings verified blobs and unpacked layers into the store. Shared by `load` (archives)
// and `pull` (registries): each layer is streamed once through hash -> decompress -> extract,
// several layers at a time, and committed only when both its blob digest and diffID match.
#pragma once

#include "layer/stream.hpp"
#include "oci/image.hpp"
#include "store/owned_tree.hpp"
#include "store/store.hpp"
#include "util/parallel.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace gantry::store {

struct ImportOptions {
    bool privileged = false; // real root: keep owners, devices, setuid bits
    unsigned jobs = 0;       // layers processed at once; 0 = number of CPUs
    // A set of layers with downloads the store drops is published together (Importer::layers);
    // a layer waits at most this long: the kernel's vm.dirty_expire_centisecs when unset
    std::optional<std::chrono::milliseconds> publish_within = std::nullopt;
};

struct LayerJob {
    std::optional<oci::Digest> blob; // expected blob digest (unknown for docker-archive members)
    oci::Digest diff_id;             // from the image config: always verified
    std::string what;                // "layer 2/5 (sha256:ab12…)"
    std::function<std::unique_ptr<layer::Reader>()> open;
    // Set when open()'s reader keeps its own copy of the bytes in the store's tmp/ (a registry
    // download): called with the verified digest instead of copying them to a new blob file.
    std::function<void(const oci::Digest&)> adopt_blob;
    // With adopt_blob: called instead when the store keeps the layer unpacked only
    std::function<void()> discard_blob;
    // The layer's media type as the manifest gave it (recorded in meta.json; "" when unknown)
    std::string media_type;
    // open() may be called again and gives the same bytes from a local file (a member of the
    // archive being loaded): the store then copies the blob from it only when it keeps the
    // blob, instead of writing every blob beside its tree and deleting it (a durable
    // publish's syncfs would write those bytes to the disk for nothing)
    bool reopenable = false;
};

struct LayerDone {
    oci::Digest blob;
    std::int64_t size = 0;
    oci::Compression compression = oci::Compression::none;
};

class Importer {
  public:
    Importer(store::Store& store, ImportOptions opt);

    // Returns the blob's text from the store, or fetched and verified against d (not stored:
    // the caller stores it with store().put_blob once everything it names is in).
    std::string json_blob(const oci::Digest& d, const std::function<std::string()>& fetch);
    store::Store& store() { return store_; }

    // Ensures every layer's blob and unpacked tree are present; runs jobs in parallel. The first
    // failure is rethrown after all workers stopped; verified layers stay (prune collects them).
    std::vector<LayerDone> layers(const std::vector<LayerJob>& jobs);

    // Points each reference at the manifest (store must hold the manifest and all it names).
    void tag(const std::vector<std::string>& refs, const oci::Digest& manifest);

  private:
    // A layer unpacked and verified, to be published (PendingLayer::commit_all), and the
    // store's own blob it replaces, removed once it is published (and ours)
    struct Publish {
        std::shared_ptr<PendingLayer> layer;
        oci::Digest diff_id;
        std::string meta;
        std::optional<oci::Digest> replaced;
    };
    // unpacks and verifies the layer; its publish is posted to publisher, or kept for the set's
    // one publish (deferred_) when the set downloads what the store drops
    LayerDone one_layer(const LayerJob& job, BackgroundQueue& publisher);
    void publish(std::vector<Publish> set);
    // Error(conflict) when the unpacked layer's owners were applied with other subordinate ids
    void check_owner_maps(const LayerJob& job);
    // A tree unpacked before owners were applied (or by the user without a range then) whose
    // recorded owners are applied now, after its recorded digest is checked: its meta.json
    // gets "owners" and the digest walked in the namespace
    void apply_in_place(const LayerJob& job);
    store::Store& store_;
    ImportOptions opt_;
    SubIdMaps maps_; // the user's subordinate ids (rootless): recorded owners are applied
    // set by layers(): the layers are published together once every job is done
    bool defer_ = false;
    std::chrono::milliseconds defer_limit_{30000};
    std::mutex deferred_mu_;
    std::vector<Publish> deferred_;
    std::chrono::steady_clock::time_point deferred_since_;
};

} // namespace gantry::store
