// sqsh/confined and sqsh::SquashFiles: every read of a squashfs image past its superblock is made
// by a forked process that called CONFINE first; gantry's own Image stays unparsed, and what the
// process answers (an Error, a crash, too much) comes back as an error naming the file.
#include "../support/temp_dir.hpp"
#include "sqsh/confined.hpp"
#include "sqsh/facts.hpp"
#include "sqsh/image_ref.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace sqsh_confined_test {

using gantry::Errc;
using gantry::Error;
namespace sqsh = gantry::sqsh;

namespace {

// A small image made by mksquashfs: etc/passwd, bin/tool (3000 bytes), an empty dir.
bool make_image(const std::filesystem::path& dir, std::string& image) {
    if (std::system("command -v mksquashfs >/dev/null 2>&1") != 0) return false;
    auto root = dir / "root";
    std::filesystem::create_directories(root / "etc");
    std::filesystem::create_directories(root / "bin");
    std::filesystem::create_directories(root / "empty");
    std::ofstream(root / "etc" / "passwd") << "root:x:0:0::/root:/bin/sh\n";
    std::ofstream(root / "bin" / "tool") << std::string(3000, 't');
    image = (dir / "img.sqsh").string();
    std::string cmd =
        "mksquashfs " + root.string() + " " + image + " -all-root -quiet -noappend >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
}

} // namespace

TEST(SqshConfined, EveryReadIsAnsweredByAnotherProcessThatConfinedItself) {
    unit_support::TempDir t("gantry-confined");
    std::string path;
    if (!make_image(t.path, path)) GTEST_SKIP() << "mksquashfs is not installed";
    auto image = sqsh::open_deferred(path);
    pid_t self = ::getpid();
    // called in gantry's own process, this would end the test
    auto confine = [self] {
        if (::getpid() == self) std::abort();
    };
    sqsh::SquashFiles files(*image, confine);
    EXPECT_TRUE(files.has("etc/passwd"));
    EXPECT_FALSE(files.has("etc/shadow"));
    EXPECT_EQ(files.read("etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    EXPECT_EQ(files.read("nothing"), "");
    auto names = files.list("");
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"bin", "empty", "etc"}));
    EXPECT_TRUE(files.list("empty").empty());
    int fd = files.open("bin/tool");
    ASSERT_GE(fd, 0);
    std::string got(4000, '\0');
    EXPECT_EQ(::read(fd, got.data(), got.size()), 3000);
    EXPECT_EQ(::write(fd, "x", 1), -1); // sealed
    ::close(fd);
    EXPECT_EQ(files.open("bin/none"), -1);
    // gantry's own image never loaded its tables
    EXPECT_EQ(image->super().block_size, 0u);

    auto where = sqsh::run_confined(
        *image, confine, [](sqsh::Image&) { return std::to_string(::getpid()); }, 32);
    EXPECT_NE(where, std::to_string(self));
}

TEST(SqshConfined, WhatTheReaderDoesWrongIsAnErrorNamingTheFile) {
    unit_support::TempDir t("gantry-confined");
    std::string path;
    if (!make_image(t.path, path)) GTEST_SKIP() << "mksquashfs is not installed";
    auto image = sqsh::open_deferred(path);
    auto none = [] {};
    auto code_of = [&](const std::function<std::string(sqsh::Image&)>& work, std::string& message) {
        try {
            sqsh::run_confined(*image, none, work, 16);
        } catch (const Error& e) {
            message = e.message();
            return e.code();
        }
        return Errc::internal; // no error
    };
    std::string m;
    EXPECT_EQ(code_of([](sqsh::Image&) -> std::string { throw Error(Errc::not_found, "gone"); }, m),
              Errc::not_found);
    EXPECT_EQ(m, "gone");
    EXPECT_EQ(code_of(
                  [](sqsh::Image&) -> std::string {
                      ::raise(SIGKILL); // a signal no sanitizer turns into an exit
                      return "";
                  },
                  m),
              Errc::invalid);
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find("stopped the confined reader"), std::string::npos) << m;
    EXPECT_EQ(code_of([](sqsh::Image&) { return std::string(100, 'x'); }, m), Errc::invalid);
    EXPECT_NE(m.find("malformed"), std::string::npos) << m;
}

} // namespace sqsh_confined_test
