// lazy/squashfs_block_digests: the block-digest table of a squashfs artifact, written and read
// back; the hostile shapes the reader refuses (docs/lazy-pull.md).
#include "lazy/squashfs_block_digests.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

#include <gtest/gtest.h>

namespace lazy_block_digests_test {

using namespace gantry;
using namespace gantry::lazy;

namespace {

std::string blob_of(std::size_t n) {
    std::string b(n, '\0');
    std::uint64_t x = 88172645463325252ull; // xorshift64: no period within a range
    for (std::size_t i = 0; i < n; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b[i] = static_cast<char>(x);
    }
    return b;
}

std::string table_of(const std::string& blob, std::uint32_t range = kBlockDigestRange) {
    BlockDigests::Writer w(range);
    for (std::size_t at = 0; at < blob.size(); at += 100'000) // fed in pieces across ranges
        w.update(blob.data() + at, std::min<std::size_t>(100'000, blob.size() - at));
    return w.finish();
}

std::string refusal(const std::string& text, std::uint64_t size) {
    try {
        (void)BlockDigests::parse(text, size, "table T");
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        return e.message();
    }
    return "";
}

} // namespace

TEST(SquashfsBlockDigests, WrittenTableReadsBackRangeByRange) {
    std::string blob = blob_of((3u << 20) + 12345); // 4 ranges, the last short
    std::string text = table_of(blob);
    ASSERT_EQ(text.size(), 24u + 4 * 32);
    EXPECT_EQ(text.substr(0, 8), "GSQBDG01");
    auto t = BlockDigests::parse(text, blob.size(), "table T");
    EXPECT_EQ(t.range_size(), 1u << 20);
    EXPECT_EQ(t.count(), 4u);
    for (std::uint64_t i = 0; i < 4; ++i) {
        std::string range = blob.substr(i << 20, 1u << 20);
        EXPECT_TRUE(t.matches(i, range));
        EXPECT_EQ(t.digest_of(i), "sha256:" + Sha256::hex_of(range));
        range[range.size() / 2] ^= 1;
        EXPECT_FALSE(t.matches(i, range)); // one bit changed
    }
    EXPECT_FALSE(t.matches(4, ""));                              // past the last range
    EXPECT_FALSE(t.matches(0, blob.substr(1u << 20, 1u << 20))); // another range's bytes
    EXPECT_EQ(BlockDigests::parse(table_of(""), 0, "table T").count(), 0u);
}

TEST(SquashfsBlockDigests, HostileTablesAreRefusedNamingWhy) {
    std::string blob = blob_of((2u << 20) + 1);
    std::string good = table_of(blob);
    EXPECT_NE(refusal(good.substr(0, good.size() - 32), blob.size()).find("the blob's 3 ranges"),
              std::string::npos); // one digest short
    EXPECT_NE(refusal(good + std::string(32, 'x'), blob.size()).find("bytes of digests"),
              std::string::npos); // one too many
    EXPECT_NE(refusal(good.substr(0, good.size() - 1), blob.size()).find("bytes of digests"),
              std::string::npos); // torn
    EXPECT_NE(refusal(good, blob.size() + 1).find("the manifest's is"), std::string::npos);
    EXPECT_NE(refusal("GSQBDG02" + good.substr(8), blob.size()).find("header"), std::string::npos);
    EXPECT_NE(refusal("GSQB", 0).find("header"), std::string::npos);
    std::string odd = good;
    odd[8] = 0, odd[9] = 0, odd[10] = 0x30, odd[11] = 0; // 3 MiB: not a power of two
    EXPECT_NE(refusal(odd, blob.size()).find("power of two"), std::string::npos);
    odd = good;
    odd[8] = 0, odd[9] = 0x10, odd[10] = 0, odd[11] = 0; // 4 KiB: too small
    EXPECT_NE(refusal(odd, blob.size()).find("power of two"), std::string::npos);
    odd = good;
    odd[12] = 1;
    EXPECT_NE(refusal(odd, blob.size()).find("reserved"), std::string::npos);
    // more than gantry reads, refused before anything else is looked at
    std::string huge(kMaxBlockDigestsBytes + 1, '\0');
    EXPECT_NE(refusal(huge, 1).find("more than the"), std::string::npos);
    // a size so large that its count would overflow a multiplication: refused by the count
    std::string big = good.substr(0, 16) + std::string(8, '\xff');
    EXPECT_FALSE(refusal(big, ~0ull).empty());
}

TEST(SquashfsBlockDigests, SmallerRangesAsAnotherWriterMightUse) {
    std::string blob = blob_of(300'000);
    auto t = BlockDigests::parse(table_of(blob, 64u << 10), blob.size(), "table T");
    EXPECT_EQ(t.count(), 5u);
    EXPECT_TRUE(t.matches(4, blob.substr(4 * (64u << 10))));
}

} // namespace lazy_block_digests_test
