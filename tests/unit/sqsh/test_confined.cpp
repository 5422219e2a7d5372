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
#include <tuple>
#include <unistd.h>
#include <utility>
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

// stream_confined (load's tar): a stream of any length from the confined process, read as it
// comes; the process's Error wins over the short stream it leaves, its death is "damaged", and
// gantry's own error stops it.
TEST(SqshConfined, StreamComesFromTheConfinedProcessAndItsErrorWins) {
    unit_support::TempDir t("gantry-confined");
    std::string path;
    if (!make_image(t.path, path)) GTEST_SKIP() << "mksquashfs is not installed";
    auto image = sqsh::open_deferred(path);
    pid_t self = ::getpid();
    auto confine = [self] {
        if (::getpid() == self) std::abort();
    };
    auto write_all = [](int fd, const std::string& s) {
        for (std::size_t done = 0; done < s.size();) {
            ssize_t n = ::write(fd, s.data() + done, s.size() - done);
            if (n <= 0) throw Error(Errc::io, "write failed");
            done += static_cast<std::size_t>(n);
        }
    };
    auto read_all = [](sqsh::ConfinedStream& in) {
        std::string got;
        char buf[4096];
        while (std::size_t n = in.read(buf, sizeof buf)) got.append(buf, n);
        return got;
    };
    const std::string big(3u << 20, 'z'); // more than a pipe holds
    std::string got;
    sqsh::stream_confined(
        *image, confine,
        [&](sqsh::Image& im, int fd) {
            im.open_tables();
            write_all(fd, std::to_string(::getpid()) + "\n" + big);
        },
        [&](sqsh::ConfinedStream& in) { got = read_all(in); });
    auto nl = got.find('\n');
    ASSERT_NE(nl, std::string::npos);
    EXPECT_NE(got.substr(0, nl), std::to_string(self));
    EXPECT_EQ(got.substr(nl + 1), big);

    auto failure = [&](const std::function<void(sqsh::Image&, int)>& produce,
                       const std::function<void(sqsh::ConfinedStream&)>& consume) {
        try {
            sqsh::stream_confined(*image, confine, produce, consume);
        } catch (const Error& e) {
            return std::make_pair(e.code(), e.message());
        }
        return std::make_pair(Errc::internal, std::string("no error"));
    };
    auto short_stream = [&](sqsh::ConfinedStream& in) {
        if (read_all(in).size() < big.size()) throw Error(Errc::invalid, "the stream is short");
    };
    // the process's Error, not the consumer's about the stream it cut short
    auto [code, message] = failure(
        [&](sqsh::Image&, int fd) {
            write_all(fd, "part");
            throw Error(Errc::not_found, "gone");
        },
        short_stream);
    EXPECT_EQ(code, Errc::not_found);
    EXPECT_EQ(message, "gone");
    // its death: the image is damaged, naming it
    std::tie(code, message) = failure(
        [&](sqsh::Image&, int fd) {
            write_all(fd, "part");
            // a signal no sanitizer turns into an exit (an earlier test may have blocked it)
            sigset_t term;
            sigemptyset(&term);
            sigaddset(&term, SIGTERM);
            ::signal(SIGTERM, SIG_DFL);
            ::sigprocmask(SIG_UNBLOCK, &term, nullptr);
            ::raise(SIGTERM);
        },
        short_stream);
    EXPECT_EQ(code, Errc::invalid);
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("stopped the confined reader"), std::string::npos) << message;
    // gantry's own error: the endless writer is stopped, that error is the one thrown
    std::tie(code, message) = failure(
        [&](sqsh::Image&, int fd) {
            for (;;) write_all(fd, big);
        },
        [](sqsh::ConfinedStream& in) {
            char buf[100];
            in.read(buf, sizeof buf);
            throw Error(Errc::io, "the store is full");
        });
    EXPECT_EQ(code, Errc::io);
    EXPECT_EQ(message, "the store is full");
    // more after the consumer's end than a stream's trailer
    std::tie(code, message) = failure([&](sqsh::Image&, int fd) { write_all(fd, big); },
                                      [](sqsh::ConfinedStream& in) {
                                          char buf[100];
                                          in.read(buf, sizeof buf);
                                      });
    EXPECT_EQ(code, Errc::invalid);
    EXPECT_NE(message.find("more than the stream"), std::string::npos) << message;
}

} // namespace sqsh_confined_test
