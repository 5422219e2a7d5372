// lazy/working_set: the order in which a lazily pulled image's first run read its chunks, kept
// per image (manifest digest) so that the next start of the image fetches them first.
//
//   ROOT/lazy/working-sets/<manifest hex>          "LAYER OFFSET" lines (a chunk's layer index
//                                                  and its blob offset), in first-read order
//   ROOT/lazy/working-sets/<manifest hex>.rec-PID  being recorded by run PID (removed by
//                                                  `system prune` when PID is gone)
//
//   $GANTRY_LAZY_WORKING_SETS/<manifest hex>       the same, in a directory the nodes share (the
//                                                  Slurm plugin's working_sets=): read when the
//                                                  store has none, written when it has none (or
//                                                  a damaged one)
//
// Recorded only while no working set exists (the first run); published when the run ends
// (synced, renamed: all or nothing). Only offsets the image's TOCs name as a chunk's start are
// used: the file is a hint of order, never trusted for content; a damaged one is not used.
#pragma once

#include "store/store.hpp"
#include "util/fd.hpp"

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace gantry::lazy {

struct ChunkRef {
    std::uint32_t layer = 0;
    std::uint64_t offset = 0;
    auto operator<=>(const ChunkRef&) const = default;
};

class WorkingSet {
  public:
    // The working set of MANIFEST_HEX, empty when none was recorded (or it is damaged): the
    // store's, else the shared directory's.
    static std::vector<ChunkRef> load(const store::Store& store, const std::string& manifest_hex);
    // GANTRY_LAZY_WORKING_SETS: "" when unset; Error(usage) unless an absolute path to a
    // directory.
    static std::string shared_dir();

    // A recorder for the image, or one that records nothing when a working set exists.
    WorkingSet(const store::Store& store, const std::string& manifest_hex);
    // The first read of a chunk: appended to the record (any process holding the descriptor).
    void read(ChunkRef c);
    // Publishes the record (when one was made and is not empty); the run has ended.
    void publish();
    int fd() const { return fd_.get(); }

  private:
    std::string final_, recording_, shared_;
    Fd fd_;
    std::mutex mu_;
    std::set<ChunkRef> seen_;
};

} // namespace gantry::lazy
