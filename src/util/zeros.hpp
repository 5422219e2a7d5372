// util/zeros: finding zero runs cheaply, for what becomes holes on disk: the extractor leaves
// zero blocks unwritten (layer/extract), analyze predicts what files allocate (analyze/scan).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace gantry::zeros {

// The block zero runs are counted and skipped in: the page size, the block of ext4, xfs,
// btrfs and tmpfs.
inline constexpr std::size_t kBlock = 4096;

// Whether N bytes at P are all zero: the first 16 bytes zero and the rest equal to itself shifted
// by 16 (memcmp runs at memory speed and stops at the first difference).
inline bool all_zero(const char* p, std::size_t n) {
    static const char z[16] = {};
    if (n <= 16) return std::memcmp(p, z, n) == 0;
    return std::memcmp(p, z, 16) == 0 && std::memcmp(p, p + 16, n - 16) == 0;
}

// Bytes of the kBlock-aligned blocks of one file that hold data, fed its pieces in increasing
// offset order (pieces may start and end anywhere).
class BlockCounter {
  public:
    void add(const char* p, std::size_t n, std::uint64_t offset) {
        for (std::size_t at = 0; at < n;) {
            std::uint64_t block = (offset + at) / kBlock;
            std::size_t len = static_cast<std::size_t>(
                std::min<std::uint64_t>(kBlock - (offset + at) % kBlock, n - at));
            if (block != last_ && !all_zero(p + at, len)) {
                bytes_ += kBlock;
                last_ = block;
            }
            at += len;
        }
    }
    std::uint64_t bytes() const { return bytes_; }

  private:
    std::uint64_t bytes_ = 0, last_ = ~std::uint64_t{0};
};

} // namespace gantry::zeros
