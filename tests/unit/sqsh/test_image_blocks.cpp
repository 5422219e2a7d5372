// sqsh::Image::read_blocks: a file's own data blocks read through the shared cache of
// decompressed blocks and a thread's own decompressor (what the FUSE server's threads call
// without the lock) return what libsquashfs' reader returns, for aligned and straddling ranges,
// sparse blocks, a file's end, zstd and gzip, and from threads at once;
// a fragment tail is refused (in_own_blocks), so it stays with the shared reader.
#include "../support/temp_dir.hpp"
#include "sqsh/image.hpp"
#include "sqsh/libsquashfs.hpp"

#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <thread>
#include <vector>

namespace sqsh_image_blocks_test {

namespace sqsh = gantry::sqsh;

namespace {

constexpr std::size_t kBlock = 128u << 10;

// Distinct, compressible bytes: no two blocks alike.
std::string content(std::size_t size, unsigned seed) {
    std::string s(size, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    for (std::size_t i = 0; i < size; ++i) {
        if (i % 16 == 0) x = x * 1664525u + 1013904223u;
        s[i] = static_cast<char>('a' + (x >> (i % 16)) % 7);
    }
    return s;
}

struct Files {
    std::string big = content(5 * kBlock + 1000, 1); // 5 blocks and a tail (in a fragment, or not)
    std::string sparse = content(kBlock, 2) + std::string(kBlock, '\0') + content(kBlock, 3);
    std::string small = content(3000, 4); // a fragment only
};

// An image of Files made by mksquashfs with COMP (and FLAGS); "" when mksquashfs cannot.
std::string make_image(const std::filesystem::path& dir, const Files& f, const std::string& comp,
                       const std::string& flags = "") {
    if (std::system("command -v mksquashfs >/dev/null 2>&1") != 0) return "";
    auto root = dir / ("root-" + comp);
    std::filesystem::create_directories(root);
    std::ofstream(root / "big") << f.big;
    std::ofstream(root / "sparse") << f.sparse;
    std::ofstream(root / "small") << f.small;
    std::string image = (dir / (comp + (flags.empty() ? "" : "-flags") + ".sqsh")).string();
    std::string cmd = "mksquashfs " + root.string() + " " + image + " -comp " + comp +
                      " -all-root -quiet -noappend " + flags + " >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0 ? image : "";
}

sqsh::Inode inode_of(sqsh::Image& img, const char* name) {
    auto root = img.inode(img.root_ref());
    auto e = img.find(*root, name);
    EXPECT_TRUE(e.has_value()) << name;
    return img.inode(e->ref);
}

std::string blocks(sqsh::Image& img, const sqfs_inode_generic_t& in, std::uint64_t at,
                   std::size_t size) {
    std::string out(size, '\0');
    out.resize(img.read_blocks(in, at, out.data(), size));
    return out;
}

} // namespace

TEST(SqshImageBlocks, ReadsWhatTheSharedReaderReadsWithEveryCompressor) {
    unit_support::TempDir t("gantry-blocks");
    Files f;
    int tried = 0;
    for (const char* comp : {"zstd", "gzip"}) { // gantry's, and a decompressor with a state
        std::string path = make_image(t.path, f, comp, "-always-use-fragments");
        if (path.empty()) continue; // this mksquashfs lacks it
        ++tried;
        sqsh::Image img(path);
        auto big = inode_of(img, "big");
        // aligned, straddling two blocks (an exec's 128 KiB around a fault), a block's last
        // byte, the last whole block
        for (auto [at, size] : {std::pair<std::uint64_t, std::size_t>{0, kBlock},
                                {kBlock / 2, kBlock},
                                {2 * kBlock - 1, 1},
                                {4 * kBlock, kBlock},
                                {kBlock + 7, 3 * kBlock}}) {
            ASSERT_TRUE(img.in_own_blocks(*big, at, size)) << comp << " " << at;
            EXPECT_EQ(blocks(img, *big, at, size), f.big.substr(at, size)) << comp << " " << at;
        }
        // the tail is in a fragment block shared with other files: not read here
        EXPECT_FALSE(img.in_own_blocks(*big, 4 * kBlock, kBlock + 1));
        EXPECT_FALSE(img.in_own_blocks(*big, 5 * kBlock, 10));
        EXPECT_FALSE(img.in_own_blocks(*inode_of(img, "small"), 0, 100));
        auto sparse = inode_of(img, "sparse");
        ASSERT_TRUE(img.in_own_blocks(*sparse, 0, 3 * kBlock));
        EXPECT_EQ(blocks(img, *sparse, 0, 3 * kBlock), f.sparse) << comp;
        std::string shared(3 * kBlock, '\0');
        EXPECT_EQ(img.read(*sparse, 0, shared.data(), shared.size()), shared.size());
        EXPECT_EQ(shared, f.sparse);
    }
    if (tried == 0) GTEST_SKIP() << "mksquashfs is not installed";
}

TEST(SqshImageBlocks, AFileWithoutAFragmentIsReadToItsEnd) {
    unit_support::TempDir t("gantry-blocks");
    Files f;
    std::string path = make_image(t.path, f, "zstd", "-no-fragments");
    if (path.empty()) GTEST_SKIP() << "mksquashfs is not installed";
    sqsh::Image img(path);
    auto big = inode_of(img, "big");
    ASSERT_TRUE(img.in_own_blocks(*big, 5 * kBlock, kBlock)); // past the end: stops there
    EXPECT_EQ(blocks(img, *big, 5 * kBlock, kBlock), f.big.substr(5 * kBlock));
    EXPECT_FALSE(img.in_own_blocks(*big, f.big.size(), 10));
    EXPECT_EQ(blocks(img, *big, f.big.size(), 10), "");
    EXPECT_EQ(blocks(img, *inode_of(img, "small"), 0, 4096), f.small);
}

TEST(SqshImageBlocks, ThreadsReadAtOnce) {
    unit_support::TempDir t("gantry-blocks");
    Files f;
    std::string path = make_image(t.path, f, "gzip"); // gzip's decompressor keeps a stream
    if (path.empty()) GTEST_SKIP() << "mksquashfs is not installed";
    sqsh::Image img(path);
    auto big = inode_of(img, "big");
    std::vector<int> wrong(4, 0);
    std::vector<std::thread> threads;
    for (unsigned n = 0; n < wrong.size(); ++n)
        threads.emplace_back([&, n] {
            for (unsigned i = 0; i < 200; ++i) {
                std::uint64_t at = ((i * 7 + n * 13) % 28) * (kBlock / 8); // within its blocks
                std::size_t size = kBlock / 2 + (i % 3) * 4096;
                if (blocks(img, *big, at, size) != f.big.substr(at, size)) ++wrong[n];
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

} // namespace sqsh_image_blocks_test
