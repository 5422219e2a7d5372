// lazy/tree: the merged tree of an eStargz image's layers (their verified tables of contents),
// as the FUSE server (fuse/server.hpp) serves it: the layers stacked as overlayfs would stack
// them (an upper layer's `.wh.NAME` hides NAME below, `.wh..wh..opq` everything below in its
// directory, a directory over a directory merges, anything else replaces), so the container
// sees one read-only lower tree with no whiteouts left. A file's bytes come from its layer's
// RemoteBlob on first read: fetched, verified, then served. Each read is marked in the layer's
// LocalMap and, on an image's first run, recorded in its working set; once the serving process
// is confined, the background prefetch (lazy/prefetch.hpp) makes the rest local.
#pragma once

#include "fuse/tree.hpp"
#include "lazy/local_map.hpp"
#include "lazy/prefetch.hpp"
#include "lazy/read_ahead.hpp"
#include "lazy/read_fetcher.hpp"
#include "lazy/remote_blob.hpp"
#include "lazy/toc.hpp"
#include "lazy/working_set.hpp"

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace gantry::lazy {

struct Layer {
    Toc toc;
    std::shared_ptr<RemoteBlob> blob;
    std::shared_ptr<LocalMap> map; // null: reads are not marked (tests)
};

// What a tree does besides serving reads (lazy::open sets it; a default one does nothing more).
struct TreeExtras {
    std::shared_ptr<WorkingSet> recorder; // the first run's working set
    std::vector<ChunkRef> working_set;    // recorded by an earlier run: prefetched first
    bool prefetch = false;                // the background prefetch, in the serving process
    // in gantry, once the container ended; ABANDONED: stop, what is local stays lazy
    std::function<void(const std::function<bool()>& abandoned)> after_serving;
};

class Tree final : public fuse::Tree {
  public:
    // LAYERS bottom first; NAME says what is served ("the lazily pulled image IMAGE").
    Tree(std::vector<Layer> layers, std::string name, TreeExtras extras = {});

    struct stat attr(std::uint64_t node) override;
    int lookup(std::uint64_t dir, const char* name, std::uint64_t& node,
               struct stat& attr) override;
    std::shared_ptr<const fuse::Listing> list(std::uint64_t dir) override;
    std::uint64_t node_of(std::uint64_t ref) const override { return ref; }
    std::unique_ptr<File> open(std::uint64_t node) override;
    std::optional<std::string> link_target(std::uint64_t node) override;
    std::vector<std::pair<std::string, std::string>> xattrs(std::uint64_t node) override;
    struct statvfs statfs() override;
    void before_serving() override;
    void after_confinement() override;
    void after_serving() override;
    std::vector<int> descriptors() const override;
    std::string name() const override { return name_; }
    bool keeps_stderr() const override { return true; }

    // The node at PATH (relative, no symlinks followed), 0 when absent; the content of a
    // regular file (what gantry reads before the launch: etc/passwd).
    std::uint64_t find(const std::string& path);
    std::optional<std::string> read_file(const std::string& path, std::size_t max);

    std::uint64_t fetched_bytes() const;

    // The container is being removed (`gantry rm`): its end publishes the working set but makes
    // no store layer of what is local (a later pull or run does), so that nothing holds the
    // image's files once the container's monitor has exited.
    void keep_no_layers() { keep_layers_ = false; }
    void abandon_when(std::function<bool()> abandoned) override {
        abandoned_ = std::move(abandoned);
    }

  private:
    struct Merged {
        std::uint32_t layer = 0, node = 0; // where its metadata and content are
        std::map<std::string, std::uint64_t> children;
        std::uint32_t links = 1;                      // directories: 2 + subdirectories
        std::shared_ptr<const fuse::Listing> listing; // made on first use
    };
    const Node& node(std::uint64_t id) const;
    Merged& merged(std::uint64_t id);
    std::uint64_t import(std::uint32_t layer, std::uint32_t node, std::vector<std::uint64_t>& seen);
    void overlay(std::uint64_t dir, std::uint32_t layer, std::uint32_t node,
                 std::vector<std::uint64_t>& seen);

    std::vector<Layer> layers_;
    std::vector<Merged> nodes_; // node id i + 1
    std::string name_;
    TreeExtras extras_;
    std::shared_ptr<ReadPriority> priority_ = std::make_shared<ReadPriority>();
    std::unique_ptr<Prefetch> prefetch_;
    std::vector<ReadAhead> ahead_;         // per layer: the container's sequential streams
    std::unique_ptr<ReadFetcher> fetcher_; // the serving process's (after its confinement)
    std::set<ChunkRef> working_set_;       // extras_.working_set's chunks (the prefetch's gate)
    bool keep_layers_ = true;
    std::function<bool()> abandoned_ = [] { return false; };
};

// What a lazy tree's serving process may call (its seccomp filter): the squashfs server's
// calls, and a libcurl client's (sockets, poll, name resolution reading /etc/hosts, its
// resolver thread, the backoff's sleeps) and the local copies' writes.
const std::vector<std::string>& server_calls();

} // namespace gantry::lazy
