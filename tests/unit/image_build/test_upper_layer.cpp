// gantry build's upper directory read back as layer entries: whiteouts, opaque directories,
// hard links, symlinks, owners and SOURCE_DATE_EPOCH clamping.
#include "image_build/upper_layer.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <set>
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

std::vector<Seen> walk(const fs::path& upper, std::optional<std::int64_t> epoch,
                       const std::set<std::string>& stubs = {},
                       const std::map<std::string, std::string>& links = {}) {
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
    write_upper(upper, epoch, sink, stubs, links);
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

// A GPU step's traces (build/step_driver.hpp): the mount targets the runtime made and the links
// the injection made are left out while they are what it made; what the step changed stays.
TEST(BuildUpperLayer, InjectedMountTargetsAndLinksAreLeftOut) {
    fs::path up = fs::temp_directory_path() / ("gantry-upper-gpu-" + std::to_string(getpid()));
    fs::remove_all(up);
    fs::path lib = up / "usr" / "lib" / "x86_64-linux-gnu";
    fs::create_directories(lib);
    fs::create_directories(up / "usr" / "bin");
    std::ofstream(lib / "libcuda.so.580.95.05").close();               // a mount target
    fs::create_symlink("libcuda.so.580.95.05", lib / "libcuda.so.1");  // the SONAME link
    fs::create_symlink("libcuda.so.1", lib / "libcuda.so");            // retargeted by the step
    std::ofstream(lib / "libnvidia-ml.so.1") << "the step wrote this"; // a target, written
    std::ofstream(up / "usr" / "bin" / "nvidia-smi").close();          // a mount target
    std::ofstream(up / "out.txt") << "result";
    std::set<std::string> stubs = {"usr/lib/x86_64-linux-gnu/libcuda.so.580.95.05",
                                   "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
                                   "usr/bin/nvidia-smi"};
    std::map<std::string, std::string> links = {
        {"usr/lib/x86_64-linux-gnu/libcuda.so.1", "libcuda.so.580.95.05"},
        {"usr/lib/x86_64-linux-gnu/libcuda.so", "libcuda.so.1.old"}};
    std::vector<std::string> paths;
    for (const auto& s : walk(up, std::nullopt, stubs, links)) paths.push_back(s.path);
    EXPECT_EQ(paths,
              (std::vector<std::string>{"out.txt", "usr/", "usr/lib/", "usr/lib/x86_64-linux-gnu/",
                                        "usr/lib/x86_64-linux-gnu/libcuda.so",
                                        "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"}));
    // without the traces every entry is there
    EXPECT_EQ(walk(up, std::nullopt).size(), 10u);
    fs::remove_all(up);
}

} // namespace build_upper_layer_test
