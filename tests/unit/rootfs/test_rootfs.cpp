// rootfs: an image's merged view over the store's unpacked layers. Upper layers hide lower ones;
// paths resolve inside a layer's root, so a symlink that climbs out with ".." or names an
// absolute host path stays in the image; a missing layer is refused by name.
#include "../support/temp_dir.hpp"
#include "rootfs/rootfs.hpp"
#include "store/store.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace rootfs_merged_view_test {

using namespace gantry;
namespace stdfs = std::filesystem;

namespace {

struct Entry {
    std::string content; // a regular file's bytes, or a symlink's target when link
    bool link = false;
};

void put(int root, const std::string& path, const Entry& e) {
    for (std::size_t s = path.find('/'); s != std::string::npos; s = path.find('/', s + 1))
        ::mkdirat(root, path.substr(0, s).c_str(), 0755);
    if (e.link) {
        ASSERT_EQ(::symlinkat(e.content.c_str(), root, path.c_str()), 0) << path;
        return;
    }
    int fd = ::openat(root, path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(::write(fd, e.content.data(), e.content.size()),
              static_cast<ssize_t>(e.content.size()));
    ::close(fd);
}

oci::Digest add_layer(store::Store& st, const std::string& name,
                      const std::map<std::string, Entry>& files) {
    auto id = oci::Digest::of("layer " + name);
    store::PendingLayer layer = st.begin_layer();
    for (const auto& [path, e] : files) put(layer.rootfs_fd(), path, e);
    layer.commit(id, "{}");
    return id;
}

struct TwoLayers {
    unit_support::TempDir dir{"gantry-rootfs-test"};
    store::Store st{dir.path / "store"};
    std::vector<oci::Digest> ids;
    TwoLayers() {
        ids.push_back(add_layer(st, "base",
                                {{"etc/os-release", {"base"}},
                                 {"etc/hosts", {"lower hosts"}},
                                 {"usr/lib/libx.so.1", {"x"}}}));
        ids.push_back(add_layer(st, "top",
                                {{"etc/hosts", {"upper hosts"}},
                                 {"lib/libx.so", {"/usr/lib/libx.so.1", true}},
                                 {"escape", {"../../../../../../etc/os-release", true}},
                                 {"abs", {"/etc/hosts", true}}}));
    }
};

} // namespace

TEST(RootfsMergedView, UpperLayerHidesLower) {
    TwoLayers t;
    EXPECT_EQ(rootfs::read_image_file(t.st, t.ids, "etc/hosts"), "upper hosts");
    EXPECT_EQ(rootfs::read_image_file(t.st, t.ids, "/etc/os-release"), "base");
    EXPECT_EQ(rootfs::read_image_file(t.st, t.ids, "etc/missing"), "");
    EXPECT_TRUE(rootfs::image_has(t.st, t.ids, "usr/lib/libx.so.1"));
    EXPECT_FALSE(rootfs::image_has(t.st, t.ids, "usr/lib/liby.so"));
    auto etc = rootfs::list_image_dir(t.st, t.ids, "etc");
    std::sort(etc.begin(), etc.end());
    EXPECT_EQ(etc, (std::vector<std::string>{"hosts", "os-release"}));
    std::map<std::string, std::string> walked;
    rootfs::walk_image_files(
        t.st, t.ids, [&](const std::string& p, const std::string& host) { walked[p] = host; });
    ASSERT_EQ(walked.count("etc/hosts"), 1u);
    EXPECT_NE(walked["etc/hosts"].find(t.ids[1].hex()), std::string::npos); // the upper copy
    EXPECT_EQ(walked.count("escape"), 0u);                                  // symlinks: no files
}

// Symlinks resolve in the layer's own root: ".." stops at it, an absolute target is inside it.
TEST(RootfsMergedView, SymlinksResolveInsideTheRoot) {
    TwoLayers t;
    // The host's /etc/os-release is never read: "../../.." stops at the top layer's root,
    // which has no etc/os-release, and no lower layer has "escape": absent.
    EXPECT_EQ(rootfs::read_image_file(t.st, t.ids, "escape"), "");
    EXPECT_EQ(rootfs::open_image_file(t.st, t.ids, "escape"), -1);
    // An absolute target is the image's own file, not the host's /etc/hosts.
    EXPECT_EQ(rootfs::read_image_file(t.st, t.ids, "abs"), "upper hosts");
    EXPECT_TRUE(rootfs::image_has(t.st, t.ids, "escape")); // the link itself exists
}

TEST(RootfsMergedView, FlattenCopiesTheMergedTreeAndStackNamesMissingLayers) {
    TwoLayers t;
    auto dest = t.dir.path / "flat";
    rootfs::flatten(t.st, t.ids, dest.string(), false);
    EXPECT_TRUE(stdfs::is_regular_file(dest / "usr/lib/libx.so.1"));
    EXPECT_TRUE(stdfs::is_symlink(dest / "escape"));
    EXPECT_EQ(stdfs::read_symlink(dest / "abs"), "/etc/hosts");
    auto stack = rootfs::stack(t.st, t.ids);
    ASSERT_EQ(stack.lower.size(), 2u);
    EXPECT_EQ(stack.lower[0], t.ids[1].hex() + "/rootfs"); // top layer first
    auto missing = oci::Digest::of("never unpacked");
    try {
        rootfs::stack(t.st, {missing});
        FAIL() << "a missing layer was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
        EXPECT_NE(std::string(e.what()).find(missing.str()), std::string::npos);
    }
}

} // namespace rootfs_merged_view_test
