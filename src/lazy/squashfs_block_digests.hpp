// lazy/squashfs_block_digests: the block-digest table of a squashfs artifact (`gantry push
// --format squashfs`), the second layer of its manifest (media type kBlockDigestsMediaType), so
// that the manifest's digest covers it: the sha256 of each fixed-size range of the squashfs
// blob, checked by the lazy reader before it serves one byte of that range. squashfs itself has
// no digests: without the table a block read before the whole blob is in is unverified.
//
// The table is binary (32 bytes per range, a 10 GiB image's is 320 KiB) and little-endian:
//   0   8   "GSQBDG01"
//   8   4   the range size in bytes: a power of two, 64 KiB to 16 MiB (gantry writes 1 MiB)
//   12  4   0 (reserved)
//   16  8   the squashfs blob's size in bytes
//   24  32n the sha256 of each range, in order; n = ceil(size / range size), the last short
// Read as hostile input (docs/lazy-pull.md): its size is bounded (kMaxBlockDigestsBytes) before
// it is fetched, the blob size must be the manifest's, the length must be exactly 24 + 32n.
//
// 1 MiB ranges: the fetcher asks for at least 1 MiB (kSquashfsReadAhead) per Range request, so
// a request covers whole ranges and a read costs no more than it did; smaller ranges would grow
// the table and the hashing without saving a byte of transfer, larger ones would make a small
// read fetch more.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gantry::lazy {

inline constexpr const char* kBlockDigestsMediaType =
    "application/vnd.gantry.squashfs.blockdigests.v1";
inline constexpr std::uint32_t kBlockDigestRange = 1u << 20;        // what gantry writes
inline constexpr std::uint64_t kMaxBlockDigestsBytes = 32ull << 20; // 1M ranges: a 1 TiB image

class BlockDigests {
  public:
    // TEXT: the table of the squashfs blob of BLOB_SIZE bytes (the manifest's); Error(invalid)
    // naming WHAT and what is wrong with it.
    static BlockDigests parse(std::string_view text, std::uint64_t blob_size,
                              const std::string& what);

    std::uint32_t range_size() const { return range_; }
    std::uint64_t blob_size() const { return blob_size_; }
    std::uint64_t count() const { return digests_.size() / 32; }
    // Whether DATA is range I's content (its sha256 is the table's).
    bool matches(std::uint64_t i, std::string_view data) const;
    // The table's sha256 of range I, "sha256:<hex>" (for messages).
    std::string digest_of(std::uint64_t i) const;

    // Writes a table: feed the blob's bytes in order, then finish().
    class Writer {
      public:
        explicit Writer(std::uint32_t range_size = kBlockDigestRange) : range_(range_size) {}
        void update(const char* data, std::size_t n);
        std::string finish(); // the table's bytes

      private:
        std::uint32_t range_;
        std::uint64_t size_ = 0;
        std::string digests_, pending_;
    };

  private:
    std::uint32_t range_ = 0;
    std::uint64_t blob_size_ = 0;
    std::string digests_; // 32 raw bytes each
};

} // namespace gantry::lazy
