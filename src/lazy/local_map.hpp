// lazy/local_map: which parts of a layer blob's local copy (ROOT/lazy/blobs/<hex>) hold the
// blob's bytes. The blob is cut into segments at every chunk's start and end (and at 0, the TOC
// and the blob's end); ROOT/lazy/blobs/<hex>.map holds one byte per segment, 1 once its bytes
// were written to the local copy (by a read, the prefetch or `gantry pull`).
//
// The map is a hint, never a proof, and is not synced: a chunk is still checked against its
// digest when it is read, and the whole blob against the layer's digest before it becomes a
// store layer (lazy/store_layers.hpp); a map that lies costs a fetch, never a wrong byte.
// Shared by the serving process's threads (the FUSE loop and the prefetch): every call locks.
#pragma once

#include "lazy/toc.hpp"
#include "util/fd.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace gantry::lazy {

class LocalMap {
  public:
    // The segment boundaries of a blob of BLOB_SIZE bytes with table of contents TOC: sorted,
    // from 0 to BLOB_SIZE.
    static std::vector<std::uint64_t> boundaries(const Toc& toc, std::uint64_t blob_size);
    // ROOT/lazy/blobs/<hex>.map for the local copy at COPY.
    static std::filesystem::path path_for(const std::filesystem::path& copy);

    // BOUNDS (boundaries()) and the map file MAP (opened read-write; read here, sized to match).
    LocalMap(std::vector<std::uint64_t> bounds, Fd map);

    std::uint64_t blob_size() const { return bounds_.back(); }
    // The segments [begin, end) of the blob that are not local, merged where they touch.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> missing(std::uint64_t begin,
                                                                 std::uint64_t end) const;
    bool has(std::uint64_t begin, std::uint64_t end) const { return missing(begin, end).empty(); }
    // [BEGIN, END) (segment boundaries, else the segments they touch) are local now.
    void mark(std::uint64_t begin, std::uint64_t end);
    // The prefetch is fetching the segments of [BEGIN, END) that are missing: missing() leaves
    // them out and wait_fetching() waits for them, until mark() or abandon() of the range.
    void fetching(std::uint64_t begin, std::uint64_t end);
    // missing() and fetching() at once: the runs of [BEGIN, END) that were missing, now being
    // fetched by the caller (no other thread claims them meanwhile).
    std::vector<std::pair<std::uint64_t, std::uint64_t>> claim(std::uint64_t begin,
                                                               std::uint64_t end);
    // The segments wholly inside [BEGIN, END) are local now (a streamed fetch: the bytes arrived
    // up to END); returns where the last of them ends (BEGIN when none does).
    std::uint64_t mark_whole(std::uint64_t begin, std::uint64_t end);
    void abandon(std::uint64_t begin, std::uint64_t end);
    // Returns once no segment of [BEGIN, END) is being fetched by the prefetch (at most
    // TIMEOUT: the reader then fetches it itself).
    void wait_fetching(std::uint64_t begin, std::uint64_t end, std::chrono::milliseconds timeout);
    std::uint64_t local_bytes() const;
    bool complete() const { return local_bytes() == blob_size(); }
    // Every segment not local (the copy did not match the layer's digest).
    void clear();
    // [BEGIN, END) cut at segment boundaries into pieces of at most MAX bytes (a segment larger
    // than MAX is one piece).
    std::vector<std::pair<std::uint64_t, std::uint64_t>>
    pieces(std::uint64_t begin, std::uint64_t end, std::uint64_t max) const;
    int fd() const { return fd_.get(); }

  private:
    std::size_t first_segment(std::uint64_t offset) const; // the one holding OFFSET
    std::vector<std::uint64_t> bounds_;
    std::vector<std::uint8_t> have_; // per segment: 0 missing, 1 local, 2 being fetched
    std::condition_variable fetched_;
    Fd fd_;
    mutable std::mutex mu_;
};

} // namespace gantry::lazy
