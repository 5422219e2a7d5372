// lazy/toc_budget: the memory one image's tables of contents may cost, counted across all its
// layers while they are parsed. Each layer's TOC is bounded on its own (kMaxTocBytes of JSON,
// kMaxEntries entries), but an image of many such layers was not: four 2.65 MB layers whose
// TOCs list 2^20 - 10 directories each cost 2.28 GB of memory and 70 s to run /bin/true.
//
// lazy/toc_builder.hpp charges each entry (kEntryBytes and its name's bytes), each chunk
// (kChunkBytes), each hard link and whiteout (kLinkBytes and the name), symlink targets and
// xattrs (their bytes) as it adds them: an estimate of what gantry and the serving process hold
// for them (the TOC node, the merged tree's, the local map's), measured on this build
// (docs/lazy-pull.md, "The memory budget"). Over the budget, the pull (`pull --lazy`, `run
// --pull lazy`, a lazy bundle) is refused with Error(invalid) naming the image, the layer that
// reached it and the budget, before the container starts.
//
// The budget: kDefaultTocMemory per image (512 MiB: ~600,000 entries of a real image; a large
// PyTorch image has 100,000-300,000), or GANTRY_LAZY_TOC_MEMORY=SIZE (docker's sizes: 2g,
// 1536m; at least 16 MiB).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

namespace gantry::lazy {

inline constexpr std::uint64_t kDefaultTocMemory = 512ull << 20;
inline constexpr std::uint64_t kEntryBytes = 800; // measured: docs/lazy-pull.md
inline constexpr std::uint64_t kChunkBytes = 200;
inline constexpr std::uint64_t kLinkBytes = 64;

// One image's budget, shared by the threads parsing its layers' TOCs.
class TocBudget {
  public:
    // LIMIT bytes for the image IMAGE (its name in messages).
    TocBudget(std::uint64_t limit, std::string image) : limit_(limit), image_(std::move(image)) {}
    // GANTRY_LAZY_TOC_MEMORY's budget, else kDefaultTocMemory (Error(usage) naming the
    // variable when it is not a size of at least 16 MiB).
    static std::uint64_t configured();

    // Each charges what was added to the layer WHAT's tree (Error(invalid) over the budget).
    void entry(std::size_t name_bytes, const std::string& what) {
        entries_.fetch_add(1, std::memory_order_relaxed);
        charge(kEntryBytes + name_bytes, what);
    }
    void chunk(const std::string& what) {
        chunks_.fetch_add(1, std::memory_order_relaxed);
        charge(kChunkBytes, what);
    }
    void bytes(std::uint64_t n, const std::string& what) { charge(n, what); }
    // Given back: a tree that was dropped (a TOC whose `entries` came twice starts again).
    void refund(std::uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

    std::uint64_t used() const { return used_.load(std::memory_order_relaxed); }
    std::uint64_t limit() const { return limit_; }

  private:
    void charge(std::uint64_t n, const std::string& what) {
        if (used_.fetch_add(n, std::memory_order_relaxed) + n > limit_) refuse(what);
    }
    [[noreturn]] void refuse(const std::string& what) const;

    std::uint64_t limit_;
    std::string image_;
    std::atomic<std::uint64_t> used_{0}, entries_{0}, chunks_{0};
};

} // namespace gantry::lazy
