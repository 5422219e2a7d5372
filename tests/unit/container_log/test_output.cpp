// A detached container's output read back (container_log/output.hpp: the last lines, following it),
// and process_running / await_exit (records/state.hpp), which say when the writers are gone.
#include "container_log/output.hpp"
#include "records/state.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace container_log_output_test {

using gantry::container_log::copy_output;
using gantry::container_log::tail_offset;
using gantry::records::process_running;
using gantry::records::process_start_time;

namespace {

// An unlinked temporary file, open for reading and writing.
struct TempFile {
    int fd = -1;
    TempFile() {
        char tmpl[] = "/tmp/gantry-output-XXXXXX";
        fd = ::mkstemp(tmpl);
        ::unlink(tmpl);
    }
    ~TempFile() { ::close(fd); }
    void append(const std::string& s) const {
        ASSERT_EQ(::pwrite(fd, s.data(), s.size(), ::lseek(fd, 0, SEEK_END)),
                  static_cast<ssize_t>(s.size()));
    }
    std::string read_all() const {
        std::string out(static_cast<std::size_t>(::lseek(fd, 0, SEEK_END)), '\0');
        EXPECT_EQ(::pread(fd, out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
        return out;
    }
};

std::string tail(const std::string& content, std::size_t lines) {
    TempFile f;
    f.append(content);
    return content.substr(static_cast<std::size_t>(tail_offset(f.fd, lines)));
}

// A child that waits for a signal (-1 if fork failed).
pid_t paused_child() {
    pid_t child = ::fork();
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    return child;
}

} // namespace

TEST(Output, TailCountsLinesFromTheEnd) {
    EXPECT_EQ(tail("a\nb\nc\n", 1), "c\n");
    EXPECT_EQ(tail("a\nb\nc\n", 2), "b\nc\n");
    EXPECT_EQ(tail("a\nb\nc\n", 3), "a\nb\nc\n");
    EXPECT_EQ(tail("a\nb\nc\n", 10), "a\nb\nc\n");
    EXPECT_EQ(tail("a\nb\nc\n", 0), "");
}

TEST(Output, TailCountsALastLineWithoutNewline) {
    EXPECT_EQ(tail("a\nb\npartial", 1), "partial");
    EXPECT_EQ(tail("a\nb\npartial", 2), "b\npartial");
}

TEST(Output, TailKeepsEmptyLines) {
    EXPECT_EQ(tail("a\n\n\n", 1), "\n");
    EXPECT_EQ(tail("a\n\n\n", 2), "\n\n");
    EXPECT_EQ(tail("", 5), "");
    EXPECT_EQ(tail("\n", 1), "\n");
}

TEST(Output, TailFindsLinesAcrossReadBlocks) {
    // lines of 1000 bytes: the 64 KiB blocks read from the end split some of them
    std::string content;
    for (int i = 0; i < 300; ++i)
        content += std::string(999, static_cast<char>('a' + i % 26)) + "\n";
    EXPECT_EQ(tail(content, 1), content.substr(299 * 1000));
    EXPECT_EQ(tail(content, 70), content.substr(230 * 1000));
    EXPECT_EQ(tail(content, 300), content);
    EXPECT_EQ(tail(content, 301), content);
}

TEST(Output, CopiesFromTheOffsetToTheEnd) {
    TempFile in, out;
    in.append("first\nsecond\n");
    copy_output(in.fd, 6, out.fd);
    EXPECT_EQ(out.read_all(), "second\n");
}

TEST(Output, FollowsAppendsUntilTheWritersAreGone) {
    TempFile in, out;
    in.append("before\n");
    std::atomic<bool> writing{true};
    std::thread writer([&] {
        for (int i = 0; i < 5; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
            in.append("line " + std::to_string(i) + "\n");
        }
        in.append("last words\n"); // written just before the writer ends
        writing = false;
    });
    copy_output(in.fd, 0, out.fd, [&] { return writing.load(); });
    writer.join();
    EXPECT_EQ(out.read_all(), "before\nline 0\nline 1\nline 2\nline 3\nline 4\nlast words\n");
}

TEST(Output, FollowDoesNotWaitWhenNothingWrites) {
    TempFile in, out;
    in.append("done\n");
    int asked = 0;
    copy_output(in.fd, 0, out.fd, [&] {
        ++asked;
        return false;
    });
    EXPECT_EQ(asked, 1); // asked once, before any wait
    EXPECT_EQ(out.read_all(), "done\n");
}

TEST(ProcessRunning, TellsALiveProcessFromAnExitedOrLaterOne) {
    pid_t child = paused_child();
    ASSERT_GT(child, 0);
    auto start = process_start_time(child);
    ASSERT_NE(start, 0u);
    EXPECT_TRUE(process_running(child, start));
    EXPECT_FALSE(process_running(child, start + 1)); // another process given the same pid
    EXPECT_FALSE(process_running(child, 0));         // no start time recorded
    ::kill(child, SIGKILL);
    // exited but not reaped: a zombie still has its /proc entry and start time
    for (int i = 0; i < 500 && process_running(child, start); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_EQ(process_start_time(child), start);
    EXPECT_FALSE(process_running(child, start));
    ASSERT_EQ(::waitpid(child, nullptr, 0), child);
    EXPECT_EQ(process_start_time(child), 0u);
    EXPECT_FALSE(process_running(child, start));
}

TEST(ProcessRunning, AwaitExitReturnsOnceTheProcessHasExited) {
    pid_t child = paused_child();
    ASSERT_GT(child, 0);
    auto start = process_start_time(child);
    gantry::records::await_exit(child, start + 1); // another process: returns at once
    std::atomic<bool> killed{false};
    std::thread killer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        killed = true;
        ::kill(child, SIGKILL);
    });
    gantry::records::await_exit(child, start);
    EXPECT_TRUE(killed.load());
    EXPECT_FALSE(process_running(child, start));
    killer.join();
    ::waitpid(child, nullptr, 0);
}

} // namespace container_log_output_test
