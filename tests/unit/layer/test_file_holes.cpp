// layer/file_holes: a vast sparse file's data regions, its sparse map (and none for any other
// file), and its stream: each region's bytes at its offset, the holes as zeros.
#include "layer/file_holes.hpp"
#include "layer/tar_reader.hpp"

#include <archive_entry.h>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

namespace layer_file_holes_test {

namespace stdfs = std::filesystem;

constexpr std::int64_t kGiB = std::int64_t(1) << 30;

struct SparseFile {
    stdfs::path path;
    int fd = -1;
    // SIZE bytes, holes but for TEXT at each offset of AT
    SparseFile(std::int64_t size, std::initializer_list<std::int64_t> at, const std::string& text) {
        const char* t = std::getenv("TMPDIR");
        std::string tmpl = std::string(t && *t ? t : "/tmp") + "/gantry-holes-XXXXXX";
        fd = ::mkstemp(tmpl.data());
        path = tmpl;
        EXPECT_EQ(::ftruncate(fd, size), 0);
        for (auto o : at)
            EXPECT_EQ(::pwrite(fd, text.data(), text.size(), o), static_cast<ssize_t>(text.size()));
    }
    ~SparseFile() {
        ::close(fd);
        ::unlink(path.c_str());
    }
};

bool has_holes(int fd) { // SEEK_HOLE short of the end: this file system keeps holes
    struct stat st {};
    ::fstat(fd, &st);
    return ::lseek(fd, 0, SEEK_HOLE) < st.st_size;
}

TEST(FileHoles, AVastSparseFileGetsItsDataRegionsAsItsMap) {
    SparseFile f(20 * kGiB, {kGiB, 19 * kGiB}, "data");
    if (!has_holes(f.fd)) GTEST_SKIP() << "the temporary directory's file system keeps no holes";
    archive_entry* e = archive_entry_new();
    archive_entry_set_size(e, 20 * kGiB);
    auto regions = gantry::layer::keep_vast_holes(e, f.fd, 20 * kGiB, "f");
    ASSERT_EQ(regions.size(), 2u);
    EXPECT_LE(regions[0].offset, kGiB);
    EXPECT_GE(regions[0].offset + regions[0].length, kGiB + 4);
    EXPECT_LE(regions[1].offset, 19 * kGiB);
    EXPECT_EQ(archive_entry_sparse_count(e), 2);
    archive_entry_free(e);
}

TEST(FileHoles, TheStreamPutsEachRegionsBytesAtItsOffset) {
    SparseFile f(64 << 10, {8 << 10, 40 << 10}, "data");
    std::string got;
    gantry::layer::stream_file(
        f.fd, {{8 << 10, 4096}, {40 << 10, 4096}}, 64 << 10,
        [&](const void* p, std::size_t n) { got.append(static_cast<const char*>(p), n); }, "f");
    std::string want(64 << 10, '\0');
    want.replace(8 << 10, 4, "data");
    want.replace(40 << 10, 4, "data");
    EXPECT_EQ(got, want);
}

TEST(FileHoles, SmallerOrFullFilesAreWrittenWholeWithoutAMap) {
    SparseFile small(gantry::layer::kMaxExpandedSparse, {kGiB}, "x");
    archive_entry* e = archive_entry_new();
    EXPECT_TRUE(
        gantry::layer::keep_vast_holes(e, small.fd, gantry::layer::kMaxExpandedSparse, "small")
            .empty());
    EXPECT_EQ(archive_entry_sparse_count(e), 0);
    archive_entry_free(e);
    // no regions: every byte read, in order
    SparseFile text(11, {0}, "hello world");
    std::string got;
    gantry::layer::stream_file(
        text.fd, {}, 11,
        [&](const void* p, std::size_t n) { got.append(static_cast<const char*>(p), n); }, "text");
    EXPECT_EQ(got, "hello world");
}

TEST(FileHoles, AFileThatShrankWhileStreamedIsAnError) {
    SparseFile f(100, {0}, "abc");
    EXPECT_THROW(gantry::layer::stream_file(
                     f.fd, {}, 200, [](const void*, std::size_t) {}, "f"),
                 gantry::Error);
}

} // namespace layer_file_holes_test
