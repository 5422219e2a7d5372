// lazy/read_ahead: how far a container read that misses the local copy fetches ahead in one
// layer blob, like the kernel's page-cache read-ahead: a read that no stream expects fetches
// kInitial bytes (what a small, random read costs); a miss where an earlier read-ahead ended
// (the reader went on through the blob: a big file from its start, small files in the blob's
// order) continues that stream with twice its window, up to kMax, and from then on, once the
// reader reaches a stream's last window, the next one (doubled, up to kMax) is fetched ahead,
// in the background (lazy/read_fetcher.hpp), while the reader verifies and serves this one.
// Several streams at once (files read in turn), the least recently used replaced. A file bigger
// than the largest window is read as a stream of its own that stops at its end (LIMIT): past it
// lies the next file in the blob, which a reader of big files (libraries a program loads) reads
// no more often than any other; a miss there continues the stream all the same.
// Offsets are the blob's; pure bookkeeping (one thread: the FUSE server's, or under a lock).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <utility>

namespace gantry::lazy {

class ReadAhead {
  public:
    static constexpr std::uint64_t kInitial = 512u << 10;
    static constexpr std::uint64_t kMax = 4u << 20;
    // a miss this far past a stream's end still continues it (tar headers between files)
    static constexpr std::uint64_t kGap = 64u << 10;
    static constexpr std::size_t kStreams = 4;

    explicit ReadAhead(std::uint64_t initial = kInitial, std::uint64_t max = kMax)
        : initial_(initial), max_(max < initial ? initial : max) {}

    static constexpr std::uint64_t kNoLimit = UINT64_MAX;
    // A read missed the local copy at OFFSET: the bytes to fetch from OFFSET now (none past
    // LIMIT, where a big file being read ends).
    std::uint64_t on_miss(std::uint64_t offset, std::uint64_t limit = kNoLimit);
    // What that miss fetched: [OFFSET, END) (the window can stop short at bytes already local).
    void fetched(std::uint64_t offset, std::uint64_t end);
    // A read of [OFFSET, END) was served: the range to fetch ahead now, once a sequential
    // stream's reader has reached its last window (none past LIMIT); nullopt otherwise.
    std::optional<std::pair<std::uint64_t, std::uint64_t>>
    on_read(std::uint64_t offset, std::uint64_t end, std::uint64_t limit = kNoLimit);

  private:
    struct Stream {
        std::uint64_t start = 0, next = 0; // fetched or asked for: [start, next)
        std::uint64_t trigger = 0;         // a read at or past it asks for the next window
        std::uint64_t window = 0;          // 0: an unused slot
        bool sequential = false;           // continued at least once: fetches ahead
        std::uint64_t used = 0;
    };
    Stream* find(std::uint64_t offset);
    std::uint64_t grow(std::uint64_t w) const { return w * 2 > max_ ? max_ : w * 2; }
    std::uint64_t initial_, max_;
    std::array<Stream, kStreams> streams_{};
    Stream* last_ = nullptr; // the stream of the last on_miss, for fetched()
    std::uint64_t clock_ = 0;
};

} // namespace gantry::lazy
