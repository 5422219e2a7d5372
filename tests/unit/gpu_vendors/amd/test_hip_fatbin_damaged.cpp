// gpu_vendors/amd/hip_fatbin against damaged input: lying counts, offsets, ID lengths and sizes,
// broken compressed bundles, zip bombs and random mutations all end in an Error(invalid) that names
// the file, never a crash or a read outside the input.
#include "hip_bundle_builders.hpp"

#include <random>

namespace amd_hip_fatbin_damaged_test {

using namespace hip_bundle_test;

TEST(HipFatbin, DamagedBundlesAreRefusedWithAMessage) {
    std::string good = observed_bundle();

    std::string count = good;
    put64(count, 24, std::uint64_t{1} << 60);
    EXPECT_NE(error_of(count).find("declares 1152921504606846976 entries"), std::string::npos);

    std::string offset = good;
    put64(offset, 24 + 8 + 24 + 25, 0x100000); // gfx1030's offset, past the end
    EXPECT_NE(error_of(offset).find("lies outside the bundle"), std::string::npos);

    std::string size = good;
    put64(size, 24 + 8 + 24 + 25 + 8, ~std::uint64_t{0}); // offset + size overflows
    EXPECT_NE(error_of(size).find("lies outside the bundle"), std::string::npos);

    std::string id_len = good;
    put64(id_len, 24 + 8 + 16, std::uint64_t{1} << 62);
    EXPECT_NE(error_of(id_len).find("ID length 4611686018427387904 runs past the end"),
              std::string::npos);

    EXPECT_NE(error_of(good.substr(0, 30)).find("truncated"), std::string::npos);
    EXPECT_NE(error_of(good.substr(0, 40)).find("more than its 40 bytes can hold"),
              std::string::npos);
    EXPECT_NE(error_of(good.substr(0, 0x1800)).find("lies outside the bundle"), std::string::npos);

    std::string section = good + std::string("\0\0\0garbage", 10);
    EXPECT_NE(error_of(host_elf(section)).find("unrecognised bytes at offset"), std::string::npos);

    std::string past_end = host_elf(good, 0x100000);
    EXPECT_NE(error_of(past_end).find(".hip_fatbin extends past the end of the file"),
              std::string::npos);
}

TEST(HipFatbin, DamagedCompressedBundlesAreRefused) {
    std::string inner = observed_bundle();
    EXPECT_NE(error_of(ccob(3, 1, inner, std::uint64_t{1} << 40))
                  .find("declares 1099511627776 uncompressed bytes, over the limit"),
              std::string::npos);
    EXPECT_NE(error_of(ccob(3, 0, inner, 0, std::uint64_t{1} << 40)).find("total size"),
              std::string::npos);
    EXPECT_NE(error_of(ccob(2, 0, inner, 0, 10)).find("total size"), std::string::npos);
    EXPECT_NE(error_of(ccob(4, 0, inner)).find("unknown version 4"), std::string::npos);
    EXPECT_NE(error_of(ccob(3, 7, inner)).find("unknown compression method 7"), std::string::npos);
    EXPECT_NE(error_of(std::string("CCOB\x03\x00", 6)).find("truncated"), std::string::npos);
    EXPECT_NE(error_of(ccob(3, 1, inner).substr(0, 20)).find("truncated"), std::string::npos);
    // Declared size smaller than the data: refused, not written past the buffer.
    EXPECT_NE(error_of(ccob(2, 0, inner, 100)).find("more than its declared 100"),
              std::string::npos);
    EXPECT_NE(error_of(ccob(2, 1, inner, 100)).find("not the declared 100"), std::string::npos);
    // Corrupt compressed data.
    for (unsigned method : {0u, 1u}) {
        std::string c = ccob(3, method, inner);
        for (std::size_t i = 40; i < c.size(); i += 7) c[i] = static_cast<char>(c[i] ^ 0x5a);
        EXPECT_NE(error_of(c).find("corrupt"), std::string::npos) << method;
    }
    // The decompressed bytes are not a bundle.
    EXPECT_NE(
        error_of(ccob(3, 1, std::string(4096, 'x'))).find("lacks the __CLANG_OFFLOAD_BUNDLE__"),
        std::string::npos);
}

TEST(HipFatbin, ZipBombsAreCapped) {
    // 64 MiB of zeros after a valid bundle header: tiny compressed, large inflated.
    std::string bomb = observed_bundle();
    bomb.resize(64u << 20, '\0');
    HipFatbinOptions opts;
    opts.max_decompressed = 8u << 20;
    for (unsigned method : {0u, 1u}) {
        std::string honest = ccob(3, method, bomb);
        EXPECT_LT(honest.size(), 1u << 20);
        EXPECT_NE(error_of(honest, opts).find("over the limit of 8388608; refused"),
                  std::string::npos);
        // Lying about its size to slip under the cap: decompression stops at the declared size.
        std::string liar = ccob(3, method, bomb, 4u << 20);
        EXPECT_NE(error_of(liar, opts).find("declared 4194304"), std::string::npos);
    }
}

TEST(HipFatbin, RandomMutationsNeverCrash) {
    std::vector<std::string> seeds = {host_elf(observed_bundle()), ccob(1, 0, observed_bundle()),
                                      ccob(2, 1, observed_bundle()),
                                      ccob(3, 0, five_entry_bundle())};
    std::mt19937 rng(22);
    int errors = 0, parsed = 0;
    for (const auto& seed : seeds) {
        for (int round = 0; round < 300; ++round) {
            std::string m = seed;
            int flips = 1 + static_cast<int>(rng() % 8);
            for (int i = 0; i < flips; ++i) {
                std::size_t at = rng() % std::min<std::size_t>(m.size(), 0x1200);
                if (rng() % 2) at = rng() % m.size();
                m[at] = static_cast<char>(rng());
            }
            if (rng() % 4 == 0) m.resize(rng() % m.size());
            try {
                read(m);
                ++parsed;
            } catch (const Error& e) {
                EXPECT_TRUE(e.message().starts_with("k_exe: ")) << e.message();
                ++errors;
            }
        }
    }
    EXPECT_GT(errors, 0);
    EXPECT_GT(parsed, 0);
}

} // namespace amd_hip_fatbin_damaged_test
