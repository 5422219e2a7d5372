// The times of a detached container's output (container_log/output.hpp): the copier's timed
// frames, untimed frames of an older gantry read beside them, docker's --since/--until selection
// and --timestamps prefixes (ViewSink), and docker's time format (log_time).
#include "container_log/output.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace container_log_output_times_test {

namespace container_log = gantry::container_log;
namespace stdfs = std::filesystem;

namespace {

struct Dir {
    stdfs::path path;
    Dir() {
        char tmpl[] = "/tmp/gantry-times-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~Dir() { stdfs::remove_all(path); }
    void write(const std::string& data) const {
        std::ofstream(path / container_log::kOutputFile, std::ios::binary) << data;
    }
};

// a frame as the copier writes it: with TIME (flags kTimed), or as before (TIME 0: flags 0)
std::string frame(int stream, const std::string& data, std::int64_t time = 0) {
    std::string h(8, '\0');
    h[0] = static_cast<char>(stream);
    h[1] = static_cast<char>(time ? container_log::kTimed : 0);
    auto n = static_cast<std::uint32_t>(data.size());
    for (int i = 0; i < 4; ++i) h[7 - i] = static_cast<char>(n >> (8 * i));
    if (time) {
        std::string t(8, '\0');
        for (int i = 0; i < 8; ++i)
            t[7 - i] = static_cast<char>(static_cast<std::uint64_t>(time) >> (8 * i));
        h += t;
    }
    return h + data;
}

// what READER hands out through VIEW, as "1:...|2:..." pieces
std::string viewed(const Dir& d, container_log::LogView view) {
    auto r = container_log::OutputReader::open(d.path.string());
    EXPECT_TRUE(r);
    std::string out;
    container_log::ViewSink sink(view, [&](int s, const char* data, std::size_t n) {
        out += std::to_string(s) + ":" + std::string(data, n) + "|";
    });
    r->read(container_log::kStdout | container_log::kStderr,
            container_log::TimedSink(std::ref(sink)));
    return out;
}

constexpr std::int64_t kT1 = 1'700'000'000'000'000'001, kT2 = 1'700'000'001'500'000'000,
                       kT3 = 1'700'000'003'000'000'000;

} // namespace

TEST(ContainerLogTimes, TheCopierStampsEachChunkWithTheTimeItWasRead) {
    Dir d;
    gantry::Fd out, err;
    timespec before{}, after{};
    ::clock_gettime(CLOCK_REALTIME, &before);
    pid_t copier = container_log::start_output_copier(
        (d.path / container_log::kOutputFile).string(), out, err);
    ASSERT_GT(copier, 0);
    ASSERT_EQ(::write(out.get(), "o1\n", 3), 3);
    out.reset();
    err.reset();
    ASSERT_TRUE(container_log::await_output_copier(copier, 5000));
    ::clock_gettime(CLOCK_REALTIME, &after);
    auto r = container_log::OutputReader::open(d.path.string());
    ASSERT_TRUE(r);
    std::vector<std::int64_t> times;
    std::string data;
    r->read(container_log::kStdout,
            container_log::TimedSink([&](int, std::int64_t t, const char* p, std::size_t n) {
                times.push_back(t);
                data.append(p, n);
            }));
    EXPECT_EQ(data, "o1\n");
    ASSERT_EQ(times.size(), 1u);
    EXPECT_GE(times[0], std::int64_t{before.tv_sec} * 1'000'000'000 + before.tv_nsec);
    EXPECT_LE(times[0], std::int64_t{after.tv_sec} * 1'000'000'000 + after.tv_nsec);
}

TEST(ContainerLogTimes, SinceAndUntilSelectChunksAndAnUntimedOneOnlyWithoutThem) {
    Dir d;
    d.write(frame(1, "old\n") + frame(1, "a\n", kT1) + frame(2, "b\n", kT2) + frame(1, "c\n", kT3));
    EXPECT_EQ(viewed(d, {}), "1:old\n|1:a\n|2:b\n|1:c\n|");
    EXPECT_EQ(viewed(d, {.since = kT2}), "2:b\n|1:c\n|"); // since <= time
    EXPECT_EQ(viewed(d, {.until = kT2}), "1:a\n|2:b\n|"); // time <= until
    EXPECT_EQ(viewed(d, {.since = kT1 + 1, .until = kT3 - 1}), "2:b\n|");
    EXPECT_EQ(viewed(d, {.since = kT3 + 1}), "");
}

TEST(ContainerLogTimes, TimestampsPrefixEachLineStartPerStream) {
    Dir d;
    // stdout's second line goes on in a later chunk; stderr's line starts between them
    d.write(frame(1, "a1\na2", kT1) + frame(2, "e\n", kT2) + frame(1, "-more\nb\n", kT3) +
            frame(1, "old\n"));
    std::string t1 = "2023-11-14T22:13:20.000000001Z ", t2 = "2023-11-14T22:13:21.500000000Z ",
                t3 = "2023-11-14T22:13:23.000000000Z ";
    EXPECT_EQ(viewed(d, {.timestamps = true}), "1:" + t1 + "a1\n" + t1 + "a2|2:" + t2 +
                                                   "e\n|1:-more\n" + t3 +
                                                   "b\n|1:0001-01-01T00:00:00.000000000Z old\n|");
}

TEST(ContainerLogTimes, LogTimeIsDockersFixedNanosecondFormatInUtc) {
    EXPECT_EQ(container_log::log_time(0), "0001-01-01T00:00:00.000000000Z");
    EXPECT_EQ(container_log::log_time(1'000'000'000), "1970-01-01T00:00:01.000000000Z");
    EXPECT_EQ(container_log::log_time(kT1), "2023-11-14T22:13:20.000000001Z");
}

TEST(ContainerLogTimes, AFrameWithUnknownFlagsIsDamaged) {
    Dir d;
    std::string f = frame(1, "x\n", kT1);
    f[1] = 2;
    d.write(f);
    auto r = container_log::OutputReader::open(d.path.string());
    ASSERT_TRUE(r);
    EXPECT_THROW(r->read(container_log::kStdout, [](int, const char*, std::size_t) {}),
                 gantry::Error);
}

} // namespace container_log_output_times_test
