// util/disk_flusher: flushes while it runs, stops at once between flushes, and is inert without
// a directory.
#include "util/disk_flusher.hpp"

#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <thread>

namespace util_disk_flusher_test {

using gantry::DiskFlusher;
using gantry::Fd;
using namespace std::chrono_literals;

Fd open_tmp_dir() {
    const char* t = std::getenv("TMPDIR");
    auto dir = std::filesystem::path(t && *t ? t : "/tmp");
    return Fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

TEST(DiskFlusher, FlushesUntilStopped) {
    DiskFlusher f(open_tmp_dir(), 2ms);
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (f.flushes() < 3 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    ASSERT_GE(f.flushes(), 3u) << "no fsync of the directory succeeded in 30 s";
    f.stop();
    unsigned n = f.flushes();
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(f.flushes(), n) << "it flushed after stop()";
}

TEST(DiskFlusher, StopReturnsAtOnceBetweenFlushes) {
    auto t0 = std::chrono::steady_clock::now();
    {
        DiskFlusher f(open_tmp_dir(), std::chrono::hours(1));
        f.stop();
        EXPECT_EQ(f.flushes(), 0u);
    }
    // an hour's wait cut short: well under it, whatever the machine's load
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 60s);
}

TEST(DiskFlusher, DoesNothingWithoutADirectory) {
    DiskFlusher f(Fd(), 1ms);
    std::this_thread::sleep_for(10ms);
    EXPECT_EQ(f.flushes(), 0u);
    f.stop();
}

} // namespace util_disk_flusher_test
