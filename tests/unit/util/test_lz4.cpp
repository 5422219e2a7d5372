// util/lz4: raw LZ4 blocks decoded by liblz4 into exactly the size the caller expects; malformed,
// truncated or lying blocks are refused (never a read or write past a buffer). Real fatbin
// payloads are decoded in tests/unit/gpu_vendors/nvidia/test_fatbin_nvcc.cpp.
#include "util/lz4.hpp"

#include <gtest/gtest.h>
#include <lz4.h>
#include <random>
#include <string>

namespace util_lz4_test {

using gantry::lz4::decompress_block;

namespace {

std::string compress(const std::string& in) {
    std::string out(static_cast<size_t>(LZ4_compressBound(static_cast<int>(in.size()))), '\0');
    int n = LZ4_compress_default(in.data(), out.data(), static_cast<int>(in.size()),
                                 static_cast<int>(out.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

// 12 literals "abcdefghijkl", an 8-byte match at `offset` back, then the last literals "hello"
// (an LZ4 block keeps its last 5 bytes literals and its last match 12 bytes from the end).
std::string block_with_match(unsigned char offset) {
    return std::string("\xc4"
                       "abcdefghijkl",
                       13) +
           std::string(1, static_cast<char>(offset)) + std::string("\0\x50hello", 7);
}

} // namespace

TEST(Lz4, Block) {
    std::string out;
    EXPECT_TRUE(decompress_block(std::string("\x50hello", 6), out, 5));
    EXPECT_EQ(out, "hello");
    EXPECT_TRUE(decompress_block(block_with_match(12), out, 25));
    EXPECT_EQ(out, "abcdefghijklabcdefghhello");
    EXPECT_TRUE(decompress_block(block_with_match(3), out, 25)); // overlapping copy
    EXPECT_EQ(out, "abcdefghijkljkljkljkhello");
    EXPECT_FALSE(decompress_block(block_with_match(12), out, 26)); // size lie
    EXPECT_FALSE(decompress_block(block_with_match(12), out, 24));
    EXPECT_FALSE(decompress_block(block_with_match(13), out, 25)); // offset > output so far
    std::string cut = block_with_match(12);
    for (size_t n : {cut.size() - 1, size_t{14}, size_t{13}, size_t{1}}) // truncated
        EXPECT_FALSE(decompress_block(cut.substr(0, n), out, 25)) << n;
    EXPECT_FALSE(decompress_block(std::string("\xf0\xff\xff", 3), out, 100)); // runaway length
    EXPECT_FALSE(decompress_block(std::string("\x90hello", 6), out, 9));      // literals past end
    EXPECT_FALSE(decompress_block({}, out, 0));                               // no token at all
    EXPECT_TRUE(decompress_block(std::string(1, '\0'), out, 0));              // the empty block
    // A block ending in a match breaks LZ4's end-of-block rule (a hand-written decoder gantry
    // had accepted it; no LZ4 compressor writes one).
    EXPECT_FALSE(decompress_block(std::string("\x32"
                                              "abc\x03\x00",
                                              6),
                                  out, 9));
}

TEST(Lz4, RoundTripsWhatLiblz4Compresses) {
    std::mt19937_64 rng(5);
    std::string random(65536, '\0');
    for (auto& c : random) c = static_cast<char>(rng());
    std::string text;
    while (text.size() < (1u << 20))
        text += ".version 9.0\n.target sm_90\nld.global.f32 %f1, [%rd1];\n";
    for (const std::string& in :
         {std::string(), std::string("x"), std::string(1u << 20, '\0'), random, text}) {
        std::string out;
        ASSERT_TRUE(decompress_block(compress(in), out, in.size())) << in.size();
        EXPECT_TRUE(out == in) << in.size();
    }
}

TEST(Lz4, MutatedBlocksNeverOverrun) {
    std::string text;
    for (int i = 0; i < 400; ++i) text += "kernel_" + std::to_string(i % 37) + "(float* x);\n";
    const std::string good = compress(text);
    std::mt19937_64 rng(9);
    std::string out;
    for (int i = 0; i < 5000; ++i) {
        std::string s = good;
        for (int k = 1 + static_cast<int>(rng() % 4); k > 0; --k)
            s[rng() % s.size()] = static_cast<char>(rng());
        if (rng() % 4 == 0) s.resize(rng() % s.size());
        size_t want = rng() % 8 == 0 ? rng() % (text.size() * 2) : text.size();
        if (decompress_block(s, out, want)) {
            EXPECT_EQ(out.size(), want);
        }
    }
}

} // namespace util_lz4_test
