// The tree digest's data hashes (store/tree_digest.hpp): v3/v4's zero runs are the same for the
// same bytes however the file system holds them, never read a hole, and differ where the bytes
// do; v1/v2's stream hash stays what older stores recorded.
#include "store/tree_digest.hpp"
#include "util/hash.hpp"

#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace tree_digest_test {

namespace stdfs = std::filesystem;
namespace store = gantry::store;

class TreeDigest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/gantry-tree-digest-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        root_ = tmpl;
    }
    void TearDown() override { stdfs::remove_all(root_); }

    // A tree DIR holding one file "f" of SIZE bytes with DATA written at each offset given and
    // nothing elsewhere: holes where the file system keeps them, or zeros written (DENSE)
    stdfs::path tree(const std::string& dir, off_t size,
                     const std::vector<std::pair<off_t, std::string>>& data, bool dense) {
        auto d = root_ / dir;
        stdfs::create_directories(d);
        int fd = ::open((d / "f").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        EXPECT_GE(fd, 0);
        if (dense) {
            std::string zeros(1 << 16, '\0');
            for (off_t at = 0; at < size; at += off_t(zeros.size()))
                EXPECT_GT(::pwrite(fd, zeros.data(),
                                   std::size_t(std::min<off_t>(size - at, off_t(zeros.size()))),
                                   at),
                          0);
        }
        for (auto& [at, bytes] : data)
            EXPECT_EQ(::pwrite(fd, bytes.data(), bytes.size(), at), ssize_t(bytes.size()));
        EXPECT_EQ(::ftruncate(fd, size), 0);
        ::close(fd);
        return d;
    }

    stdfs::path root_;
};

TEST_F(TreeDigest, ZeroRunsAreTheSameForHolesAndWrittenZerosAndReadNoHole) {
    const off_t size = (8 << 20) + 123; // ends inside a block
    std::vector<std::pair<off_t, std::string>> data{
        {0, "head"}, {3 << 20, std::string(10000, 'm')}, {(8 << 20) + 100, "tail"}};
    auto sparse = tree("sparse", size, data, false);
    auto dense = tree("dense", size, data, true);
    auto a = store::tree_digest(sparse), b = store::tree_digest(dense);
    EXPECT_EQ(a.digest, b.digest);
    EXPECT_EQ(b.content_bytes, std::uint64_t(size)) << "written zeros are read";
    // the holes are not read (ext4, tmpfs, xfs and btrfs report them)
    EXPECT_LT(a.content_bytes, std::uint64_t(1 << 20)) << a.content_bytes;
    // stream (v1, v2) hashes the bytes, whatever holds them, and differs from zero runs
    auto sa = store::tree_digest(sparse, nullptr, store::DataHash::stream);
    EXPECT_EQ(sa.digest, store::tree_digest(dense, nullptr, store::DataHash::stream).digest);
    EXPECT_NE(sa.digest, a.digest);
    EXPECT_EQ(sa.content_bytes, std::uint64_t(size));
}

TEST_F(TreeDigest, ZeroRunsDifferWhereTheBytesDo) {
    const off_t size = 1 << 20;
    auto base = store::tree_digest(tree("base", size, {{4096, "x"}}, false)).digest;
    // the byte elsewhere in the same block, in another block, another byte, a longer file, a
    // zero block more before the same data
    EXPECT_NE(store::tree_digest(tree("t1", size, {{4097, "x"}}, false)).digest, base);
    EXPECT_NE(store::tree_digest(tree("t2", size, {{8192, "x"}}, false)).digest, base);
    EXPECT_NE(store::tree_digest(tree("t3", size, {{4096, "y"}}, false)).digest, base);
    EXPECT_NE(store::tree_digest(tree("t4", size + 1, {{4096, "x"}}, false)).digest, base);
    EXPECT_NE(
        store::tree_digest(tree("t5", size, {{0, std::string(4097, '\0') + "x"}}, true)).digest,
        store::tree_digest(tree("t6", size, {{0, std::string(4096, '\0') + "x"}}, true)).digest);
    EXPECT_EQ(store::tree_digest(tree("t7", size, {{4096, "x"}}, true)).digest, base);
}

// A hostile layer's PAX sparse file of 2 TiB is 10 KB in its tar: digesting it reads its data
// only (it read 2 TiB of zeros, hours, before v3)
TEST_F(TreeDigest, AVastSparseFileCostsItsDataOnly) {
    auto d = tree("vast", off_t(2) << 40, {{off_t(1) << 40, "middle"}}, false);
    auto t = store::tree_digest(d);
    EXPECT_LE(t.content_bytes, 8192u);
    EXPECT_EQ(t.entries, 2u);
    EXPECT_EQ(store::tree_digest(d).digest, t.digest);
}

// v1 (stream) is what stores before v3 recorded: built here from its documented records
TEST_F(TreeDigest, TheStreamHashIsTheV1RecordOlderStoresHold) {
    auto d = tree("v1", 5, {{0, "hello"}}, false);
    ASSERT_EQ(::chmod(d.c_str(), 0755), 0);
    auto record = [](const std::string& path, char type, const stdfs::path& at,
                     const std::string& size, const std::string& content) {
        struct stat st {};
        EXPECT_EQ(::lstat(at.c_str(), &st), 0);
        char mode[8];
        std::snprintf(mode, sizeof mode, "%o", unsigned(st.st_mode & 07777));
        std::string r = path + '\0' + type + '\0' + mode + '\0' + std::to_string(st.st_uid) + '\0' +
                        std::to_string(st.st_gid) + '\0' + size + '\0' + content + '\0';
        return r + std::string(2, '\0') + "0" + std::string(1, '\0'); // link, device, 0 xattrs
    };
    gantry::Sha256 h;
    h.update(record(".", 'd', d, "0", ""));
    h.update(record("f", 'f', d / "f", "5", gantry::Sha256::hex_of("hello")));
    auto v1 = store::tree_digest(d, nullptr, store::DataHash::stream);
    EXPECT_EQ(v1.digest, "sha256:" + h.hex_final());
}

TEST_F(TreeDigest, SchemeNamesGoBothWays) {
    using store::DataHash;
    using store::TreeContent;
    for (auto c : {TreeContent::hashed, TreeContent::by_tar_split})
        for (auto h : {DataHash::stream, DataHash::zero_runs}) {
            auto s = store::tree_scheme_of(store::tree_digest_scheme({c, h}));
            ASSERT_TRUE(s);
            EXPECT_EQ(s->content, c);
            EXPECT_EQ(s->data, h);
        }
    EXPECT_STREQ(store::tree_digest_scheme({TreeContent::hashed, DataHash::stream}),
                 "gantry-tree-v1");
    EXPECT_STREQ(store::tree_digest_scheme({TreeContent::by_tar_split, DataHash::zero_runs}),
                 "gantry-tree-v4");
    EXPECT_FALSE(store::tree_scheme_of("gantry-tree-v5"));
}

} // namespace tree_digest_test
