// sqsh::Image on damaged images that libsquashfs itself reads wrong: each damage must be an Error
// naming the file, never a crash (fuzz/fuzz_sqsh_reader.cpp fuzzes the rest).
#include "../support/temp_dir.hpp"
#include "sqsh/image.hpp"
#include "util/error.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <string>

namespace sqsh_image_damaged_test {

using gantry::Errc;
using gantry::Error;
namespace sqsh = gantry::sqsh;

namespace {

// Little-endian fields of an image in memory (squashfs is little-endian, as is every host gantry
// builds for: image.cpp asserts it).
template <class T>
T field(const std::string& image, std::size_t at) {
    T v{};
    std::memcpy(&v, image.data() + at, sizeof v);
    return v;
}
template <class T>
void set_field(std::string& image, std::size_t at, T v) {
    std::memcpy(image.data() + at, &v, sizeof v);
}

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

} // namespace

// An extended symlink whose target runs to the end of the inode table, so that the xattr index
// after the target is cut off. libsquashfs 1.2 then frees the inode it read but leaves it in its
// result, and Image::inode took it and freed it a second time (a double free, found by
// fuzz_sqsh_reader; its input is fuzz/regressions/sqsh_reader/crash-47468994...). Made from
// mksquashfs's image of one symlink with uncompressed inodes (-noI): the inode table is one
// metadata block, the link's inode first (the root directory's last); the link becomes
// SQFS_INODE_EXT_SLINK (10) with a target size of the rest of the table.
TEST(SqshImageDamaged, AnExtendedSymlinkCutBeforeItsXattrIndexIsAnError) {
    if (std::system("command -v mksquashfs >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "mksquashfs is not installed";
    unit_support::TempDir t("gantry-sqsh-damaged");
    auto root = t.path / "root";
    std::filesystem::create_directories(root);
    std::filesystem::create_symlink("t", root / "l");
    std::string path = (t.path / "link.sqsh").string();
    std::string cmd = "mksquashfs " + root.string() + " " + path +
                      " -noI -all-root -quiet -noappend >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);

    std::string image = read_all(path);
    ASSERT_GE(image.size(), 96u);
    auto inodes = field<std::uint64_t>(image, 64); // inode_table_start
    auto dirs = field<std::uint64_t>(image, 72);   // directory_table_start
    ASSERT_LT(inodes + 2 + 24, dirs);
    ASSERT_LE(dirs, image.size());
    // one uncompressed metadata block holds the whole table
    ASSERT_EQ(field<std::uint16_t>(image, inodes), 0x8000 | (dirs - inodes - 2));
    std::size_t link = inodes + 2;
    ASSERT_EQ(field<std::uint16_t>(image, link), 3);       // SQFS_INODE_SLINK
    ASSERT_EQ(field<std::uint32_t>(image, link + 20), 1u); // its target, "t"
    set_field<std::uint16_t>(image, link, 10);             // SQFS_INODE_EXT_SLINK
    set_field<std::uint32_t>(image, link + 20, static_cast<std::uint32_t>(dirs - link - 24));
    std::ofstream(path, std::ios::binary | std::ios::trunc) << image;

    sqsh::Image img(path);
    auto top = img.inode(img.root_ref());
    auto entry = img.find(*top, "l");
    ASSERT_TRUE(entry.has_value());
    try {
        img.inode(entry->ref);
        FAIL() << "a symlink cut before its xattr index was read";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find(path), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("damaged squashfs image"), std::string::npos) << e.message();
    }
    // the same image read again: nothing of the failed read is left to free
    auto again = img.find(*img.inode(img.root_ref()), "l");
    ASSERT_TRUE(again.has_value());
    EXPECT_THROW(img.inode(again->ref), Error);
}

} // namespace sqsh_image_damaged_test
