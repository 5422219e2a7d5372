// lazy/tree: layers' TOCs merged as overlayfs stacks layers (whiteouts, opaque directories,
// directories merged, anything else replaced), and files read through the local copy of their
// blob (no registry: every chunk is already there, and still verified before it is served).
#include "layer_tar.hpp"
#include "lazy/toc.hpp"
#include "lazy/tree.hpp"
#include "lazy/tree_files.hpp"
#include "lazy/writer.hpp"
#include "util/error.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <cerrno>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

namespace lazy_tree_test {

using namespace gantry;

namespace {

using In = lazy_layer_tar::Entry;

// A layer whose blob is all in its local copy (a memfd).
lazy::Layer layer(const std::vector<In>& entries) {
    // the tree tests' directories are 0644, as their layers always were
    std::string tar = lazy_layer_tar::make_tar(entries, 0644);
    int in = ::memfd_create("in", 0);
    EXPECT_EQ(::write(in, tar.data(), tar.size()), static_cast<ssize_t>(tar.size()));
    ::lseek(in, 0, SEEK_SET);
    int out = ::memfd_create("blob", 0);
    auto l = lazy::write_estargz(in, out, "layer t", 1000);
    ::close(in);
    std::string blob(l.size, '\0');
    EXPECT_EQ(::pread(out, blob.data(), blob.size(), 0), static_cast<ssize_t>(blob.size()));
    lazy::Layer r;
    r.toc = lazy::Toc::read([&](std::uint64_t o, std::size_t n) { return blob.substr(o, n); },
                            blob.size(), l.toc_digest, "layer t");
    r.blob = std::make_shared<lazy::RemoteBlob>(nullptr, "r", l.digest, l.size, Fd(out), "layer t");
    return r;
}

std::string cat(lazy::Tree& t, const std::string& path) {
    auto s = t.read_file(path, 1u << 20);
    return s ? *s : "<none>";
}

std::vector<std::string> names(lazy::Tree& t, const std::string& dir) {
    std::vector<std::string> out;
    for (auto& e : *t.list(t.find(dir))) out.push_back(e.name);
    return out;
}

} // namespace

TEST(LazyTree, LayersMergeAsOverlayfsStacksThem) {
    std::string big(5000, 'x');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
    std::vector<lazy::Layer> layers;
    layers.push_back(layer({{"a/", AE_IFDIR},
                            {"a/keep", AE_IFREG, "keep\n"},
                            {"a/gone", AE_IFREG, "gone\n"},
                            {"a/big", AE_IFREG, big},
                            {"a/hard", 0, "a/keep"},
                            {"o/", AE_IFDIR},
                            {"o/old", AE_IFREG, "old\n"},
                            {"f", AE_IFREG, "file\n"}}));
    layers.push_back(layer({{"a/.wh.gone", AE_IFREG},
                            {"a/new", AE_IFREG, "new\n"},
                            {"o/.wh..wh..opq", AE_IFREG},
                            {"o/fresh", AE_IFREG, "fresh\n"},
                            {"f/", AE_IFDIR}, // a directory replaces the file below
                            {"f/in", AE_IFLNK, "../a/keep"}}));
    lazy::Tree t(std::move(layers), "the image t");
    EXPECT_EQ(names(t, "a"), (std::vector<std::string>{"big", "hard", "keep", "new"}));
    EXPECT_EQ(names(t, "o"), std::vector<std::string>{"fresh"});
    EXPECT_EQ(names(t, ""), (std::vector<std::string>{"a", "f", "o"}));
    EXPECT_EQ(cat(t, "a/keep"), "keep\n");
    EXPECT_EQ(cat(t, "a/hard"), "keep\n");
    EXPECT_EQ(t.find("a/hard"), t.find("a/keep")); // one inode
    EXPECT_EQ(t.attr(t.find("a/keep")).st_nlink, 2u);
    EXPECT_EQ(cat(t, "a/big"), big); // five chunks
    EXPECT_EQ(cat(t, "a/gone"), "<none>");
    EXPECT_EQ(cat(t, "o/old"), "<none>");
    EXPECT_TRUE(S_ISDIR(t.attr(t.find("f")).st_mode));
    EXPECT_EQ(t.link_target(t.find("f/in")), "../a/keep");
    EXPECT_EQ(t.attr(fuse::Tree::kRoot).st_nlink, 5u); // 2 + a, f, o
    std::uint64_t node = 0;
    struct stat st {};
    EXPECT_EQ(t.lookup(t.find("a"), "gone", node, st), ENOENT);
    EXPECT_EQ(t.lookup(t.find("a/keep"), "x", node, st), ENOTDIR);
    // reads at any offset, across chunk ends, past the end
    auto f = t.open(t.find("a/big"));
    ASSERT_TRUE(f);
    char buf[300];
    ASSERT_EQ(f->read(900, buf, sizeof buf), sizeof buf);
    EXPECT_EQ(std::string(buf, sizeof buf), big.substr(900, 300));
    EXPECT_EQ(f->read(4900, buf, sizeof buf), 100u);
    EXPECT_EQ(f->read(6000, buf, sizeof buf), 0u);
    EXPECT_EQ(t.open(t.find("a")), nullptr);
    EXPECT_EQ(t.fetched_bytes(), 0u); // all from the local copies
}

TEST(LazyTree, AnAlteredLocalCopyIsNeverServed) {
    auto l = layer({{"f", AE_IFREG, "precious\n"}});
    const auto& c = l.toc.nodes[l.toc.nodes[0].children.at("f")].chunks.at(0);
    char b = 0;
    ASSERT_EQ(::pread(l.blob->cache_fd(), &b, 1, static_cast<off_t>(c.offset + 12)), 1);
    b ^= 1;
    ASSERT_EQ(::pwrite(l.blob->cache_fd(), &b, 1, static_cast<off_t>(c.offset + 12)), 1);
    std::vector<lazy::Layer> layers;
    layers.push_back(std::move(l));
    lazy::Tree t(std::move(layers), "the image t");
    // not in the local copy any more: it must be fetched, and this blob has no registry
    EXPECT_ANY_THROW(t.read_file("f", 100));
}

TEST(LazyTree, NegativeNumbersInATocAreRefused) {
    for (
        const char* toc :
        {R"({"version":1,"entries":[{"name":"x","type":"reg","size":5,"offset":-5,)"
         R"("chunkDigest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]})",
         R"({"version":1,"entries":[{"name":"x","type":"reg","size":-1,"offset":5,)"
         R"("chunkDigest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]})"}) {
        EXPECT_THROW(lazy::Toc::parse(toc, 1000, "layer t"), Error) << toc;
    }
}

TEST(LazyTree, TheGpuStepReadsTheImageThroughTheTree) {
    std::vector<lazy::Layer> layers;
    layers.push_back(layer({{"usr/", AE_IFDIR},
                            {"usr/lib/", AE_IFDIR},
                            {"usr/lib/libcuda.so.1", AE_IFREG, "elf\n"},
                            {"lib", AE_IFLNK, "usr/lib"},
                            {"etc/", AE_IFDIR},
                            {"etc/os-release", AE_IFREG, "ID=debian\n"}}));
    lazy::Tree t(std::move(layers), "the image t");
    lazy::TreeFiles files(t);
    EXPECT_TRUE(files.has("usr/lib/libcuda.so.1"));
    EXPECT_TRUE(files.has("lib")); // the link itself, not followed
    EXPECT_FALSE(files.has("usr/lib64"));
    EXPECT_EQ(files.read("etc/os-release"), "ID=debian\n");
    EXPECT_EQ(files.read("etc/none"), "");
    EXPECT_EQ(files.list("usr/lib"), std::vector<std::string>{"libcuda.so.1"});
    EXPECT_TRUE(files.list("nowhere").empty());
    int fd = files.open("usr/lib/libcuda.so.1");
    ASSERT_GE(fd, 0);
    char buf[16] = {};
    EXPECT_EQ(::read(fd, buf, sizeof buf), 4);
    EXPECT_EQ(std::string(buf, 4), "elf\n");
    EXPECT_EQ(::write(fd, "x", 1), -1); // sealed
    ::close(fd);
    EXPECT_EQ(files.open("etc/none"), -1);
    EXPECT_STREQ(files.kind(), "lazy");
}

} // namespace lazy_tree_test
