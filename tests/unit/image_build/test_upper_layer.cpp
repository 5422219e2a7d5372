// gantry build's upper directory read back as layer entries: whiteouts, opaque directories,
// hard links, symlinks, owners and SOURCE_DATE_EPOCH clamping.
#include "image_build/upper_layer.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <vector>

namespace build_upper_layer_test {

using namespace gantry::image_build;
namespace fs = std::filesystem;

namespace {

struct Seen {
    std::string path, link, symlink;
    mode_t type = 0;
    time_t mtime = 0;
    std::string data;
};

std::vector<Seen> walk(const fs::path& upper, std::optional<std::int64_t> epoch) {
    std::vector<Seen> out;
    TarSink sink{[&](archive_entry* e) {
                     Seen s;
                     s.path = archive_entry_pathname(e);
                     s.type = archive_entry_filetype(e);
                     s.mtime = archive_entry_mtime(e);
                     if (auto* h = archive_entry_hardlink(e)) s.link = h;
                     if (auto* l = archive_entry_symlink(e)) s.symlink = l;
                     out.push_back(s);
                 },
                 [&](const void* p, std::size_t n) {
                     out.back().data.append(static_cast<const char*>(p), n);
                 }};
    write_upper(upper, epoch, sink);
    return out;
}

} // namespace

TEST(BuildUpperLayer, WhiteoutsOpaqueLinksAndEpoch) {
    fs::path up = fs::temp_directory_path() / ("gantry-upper-" + std::to_string(getpid()));
    fs::remove_all(up);
    fs::create_directories(up / "etc" / "new");
    std::ofstream(up / "etc" / "b") << "hello";
    fs::create_hard_link(up / "etc" / "b", up / "etc" / "c");
    fs::create_symlink("b", up / "etc" / "link");
    bool can_mknod = mknod((up / "etc" / "gone").c_str(), S_IFCHR | 0, makedev(0, 0)) == 0;
    bool can_xattr = setxattr((up / "etc" / "new").c_str(), "user.overlay.opaque", "y", 1, 0) == 0;
    auto seen = walk(up, 1000);
    std::vector<std::string> paths;
    for (const auto& s : seen) paths.push_back(s.path);
    std::vector<std::string> want = {"etc/", "etc/b", "etc/c"};
    if (can_mknod) want.push_back("etc/.wh.gone");
    want.push_back("etc/link");
    want.push_back("etc/new/");
    if (can_xattr) want.push_back("etc/new/.wh..wh..opq");
    EXPECT_EQ(paths, want);
    EXPECT_EQ(seen[1].data, "hello");
    EXPECT_EQ(seen[2].link, "etc/b");
    EXPECT_EQ(seen[2].data, "");
    for (const auto& s : seen) EXPECT_EQ(s.mtime, 1000) << s.path;
    for (const auto& s : seen) {
        if (s.path == "etc/link") {
            EXPECT_EQ(s.symlink, "b");
        }
    }
    // Without an epoch the recorded times stay.
    EXPECT_GT(walk(up, std::nullopt)[0].mtime, 1000);
    fs::remove_all(up);
}

} // namespace build_upper_layer_test
