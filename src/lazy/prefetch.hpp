// lazy/prefetch: the background fetch that makes a lazily served image local, in the serving
// process (started once it is confined, ended with it: with the container).
//
// Order (plan()): the image's recorded working set first (lazy/working_set.hpp: the chunks its
// first run read, in that order), then each layer's prioritised files (eStargz: the blob up to
// `.prefetch.landmark`), then the rest of each layer, bottom first, in blob order. Requests are
// at most kPieceBytes (cut at chunk boundaries), made by kThreads threads on the registry
// client's own connections; a piece already local (lazy/local_map.hpp) is skipped, and no
// request starts while a container read waits on the registry (ReadPriority; with a recorded
// working set, nor while the container reads it). The bytes go to
// the layer's local copy unverified (a container read of a chunk being fetched waits for it,
// LocalMap::wait_fetching; the working set's pieces are not held back by the container's
// reads, the rest is): every chunk is verified when read, the whole blob before
// it becomes a store layer. A failed request stops that thread's prefetch (with one line on
// stderr); the container's reads go on fetching what they need.
#pragma once

#include "lazy/local_map.hpp"
#include "lazy/remote_blob.hpp"
#include "lazy/toc.hpp"
#include "lazy/working_set.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace gantry::lazy {

inline constexpr std::uint64_t kPieceBytes = 4u << 20;
inline constexpr unsigned kThreads = 2;
inline constexpr std::uint64_t kWorkingSetGap = 256u << 10;

struct PrefetchLayer {
    const Toc* toc = nullptr;
    std::shared_ptr<RemoteBlob> blob;
    std::shared_ptr<LocalMap> map;
};

struct Piece {
    std::uint32_t layer = 0;
    std::uint64_t begin = 0, end = 0;
    bool working_set = false; // what the container will read: not held back by its reads
    bool operator==(const Piece&) const = default;
};

// The pieces to fetch, in order (a piece may repeat an earlier one's bytes: it is skipped then).
std::vector<Piece> plan(const std::vector<PrefetchLayer>& layers,
                        const std::vector<ChunkRef>& working_set,
                        std::uint64_t piece_bytes = kPieceBytes);

class Prefetch {
  public:
    Prefetch(std::vector<PrefetchLayer> layers, std::vector<Piece> pieces,
             std::shared_ptr<ReadPriority> priority);
    // Starts the threads (detached: they end with the process).
    void start(unsigned threads = kThreads);

  private:
    void work();
    std::vector<PrefetchLayer> layers_;
    std::vector<Piece> pieces_;
    std::shared_ptr<ReadPriority> priority_;
    std::atomic<std::size_t> next_{0};
};

} // namespace gantry::lazy
