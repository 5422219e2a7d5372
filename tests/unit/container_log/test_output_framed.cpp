// A detached container's framed output (container_log/output.hpp): the copier's frames with each
// chunk's stream, the reader's stream selection and last lines, an older container's raw log,
// a damaged file, and print_output's split of the streams.
#include "container_log/output.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace container_log_output_framed_test {

namespace container_log = gantry::container_log;
namespace stdfs = std::filesystem;

namespace {

struct Dir {
    stdfs::path path;
    Dir() {
        char tmpl[] = "/tmp/gantry-framed-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~Dir() { stdfs::remove_all(path); }
    void write(const char* name, const std::string& data) const {
        std::ofstream(path / name, std::ios::binary) << data;
    }
};

std::string frame(int stream, const std::string& data) {
    std::string h(8, '\0');
    h[0] = static_cast<char>(stream);
    auto n = static_cast<std::uint32_t>(data.size());
    h[4] = static_cast<char>(n >> 24);
    h[5] = static_cast<char>(n >> 16);
    h[6] = static_cast<char>(n >> 8);
    h[7] = static_cast<char>(n);
    return h + data;
}

// everything the reader hands out, as "1:...|2:..." pieces
std::string pieces(container_log::OutputReader& r, unsigned streams) {
    std::string out;
    r.read(streams, [&](int s, const char* d, std::size_t n) {
        out += std::to_string(s) + ":" + std::string(d, n) + "|";
    });
    return out;
}

std::string tailed(const Dir& d, std::size_t lines, unsigned streams) {
    auto r = container_log::OutputReader::open(d.path.string());
    EXPECT_TRUE(r);
    r->tail(lines, streams);
    return pieces(*r, streams);
}

} // namespace

TEST(RuntimeOutputFramed, TheCopierFramesEachStreamAndEndsWithItsWriters) {
    Dir d;
    gantry::Fd out, err;
    pid_t copier = container_log::start_output_copier(
        (d.path / container_log::kOutputFile).string(), out, err);
    ASSERT_GT(copier, 0);
    ASSERT_EQ(::write(out.get(), "o1\n", 3), 3);
    ASSERT_TRUE(container_log::await_output_copier(copier, 0) == false);
    // one stream at a time, so the order is the writes' order
    std::string seen;
    auto r = container_log::OutputReader::open(d.path.string());
    ASSERT_TRUE(r);
    for (int i = 0; i < 200 && seen.empty(); ++i) {
        seen = pieces(*r, container_log::kStdout | container_log::kStderr);
        if (seen.empty()) ::usleep(5000);
    }
    EXPECT_EQ(seen, "1:o1\n|");
    ASSERT_EQ(::write(err.get(), "e1\n", 3), 3);
    out.reset();
    err.reset();
    EXPECT_TRUE(container_log::await_output_copier(copier, 5000));
    EXPECT_TRUE(r->framed());
    EXPECT_EQ(pieces(*r, container_log::kStdout | container_log::kStderr), "2:e1\n|");
}

TEST(RuntimeOutputFramed, SelectsStreamsAndCountsTheLastLinesOfThoseSelected) {
    Dir d;
    d.write(container_log::kOutputFile, frame(1, "a\nb\n") + frame(2, "E1\n") + frame(1, "c\nd") +
                                            frame(2, "E2\nE3\n") + frame(1, "\ne\n"));
    auto r = container_log::OutputReader::open(d.path.string());
    ASSERT_TRUE(r);
    EXPECT_EQ(pieces(*r, container_log::kStdout), "1:a\nb\n|1:c\nd|1:\ne\n|");
    EXPECT_EQ(tailed(d, 2, container_log::kStdout), "1:d|1:\ne\n|");
    EXPECT_EQ(tailed(d, 1, container_log::kStdout), "1:e\n|");
    EXPECT_EQ(tailed(d, 2, container_log::kStderr), "2:E2\nE3\n|");
    EXPECT_EQ(tailed(d, 3, container_log::kStdout | container_log::kStderr), "2:E3\n|1:\ne\n|");
    EXPECT_EQ(tailed(d, 0, container_log::kStdout), "");
    EXPECT_EQ(tailed(d, 100, container_log::kStderr), "2:E1\n|2:E2\nE3\n|");
}

TEST(RuntimeOutputFramed, AFrameBeingWrittenWaitsAndADamagedOneIsAnError) {
    Dir d;
    std::string whole = frame(1, "x\n") + frame(2, "yy\n");
    d.write(container_log::kOutputFile, whole.substr(0, whole.size() - 2));
    auto r = container_log::OutputReader::open(d.path.string());
    ASSERT_TRUE(r);
    EXPECT_EQ(pieces(*r, container_log::kStdout | container_log::kStderr), "1:x\n|");
    d.write(container_log::kOutputFile, whole);
    EXPECT_EQ(pieces(*r, container_log::kStdout | container_log::kStderr), "2:yy\n|");
    Dir bad;
    bad.write(container_log::kOutputFile, std::string("\x07\0\0\0\0\0\0\1z", 9));
    auto b = container_log::OutputReader::open(bad.path.string());
    ASSERT_TRUE(b);
    EXPECT_THROW(pieces(*b, container_log::kStdout), gantry::Error);
}

TEST(RuntimeOutputFramed, AnOlderContainersRawLogIsReadAsStdout) {
    Dir d;
    d.write(container_log::kLegacyLogFile, "one\ntwo\nthree\n");
    auto r = container_log::OutputReader::open(d.path.string());
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->framed());
    EXPECT_EQ(pieces(*r, container_log::kStderr), "");
    EXPECT_EQ(tailed(d, 2, container_log::kStdout), "1:two\nthree\n|");
    Dir none;
    EXPECT_FALSE(container_log::OutputReader::open(none.path.string()));
}

TEST(RuntimeOutputFramed, PrintOutputSendsEachStreamToItsDescriptor) {
    Dir d;
    d.write(container_log::kOutputFile,
            frame(1, "o1\n") + frame(1, "o2\n") + frame(2, "e1\n") + frame(1, "o3\n"));
    int out[2], err[2];
    ASSERT_EQ(::pipe(out), 0);
    ASSERT_EQ(::pipe(err), 0);
    auto r = container_log::OutputReader::open(d.path.string());
    ASSERT_TRUE(r);
    container_log::print_output(*r, container_log::kStdout | container_log::kStderr, out[1],
                                err[1]);
    ::close(out[1]);
    ::close(err[1]);
    char buf[64];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "o1\no2\no3\n");
    n = ::read(err[0], buf, sizeof buf);
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "e1\n");
    ::close(out[0]);
    ::close(err[0]);
}

TEST(RuntimeOutputFramed, AppendFrameWritesDockersHeader) {
    std::string out = "x";
    std::string payload(0x010203, 'p');
    container_log::append_frame(out, 2, payload.data(), payload.size());
    ASSERT_EQ(out.size(), 1 + 8 + payload.size());
    EXPECT_EQ(out.substr(1, 8), std::string("\x02\0\0\0\x00\x01\x02\x03", 8));
    EXPECT_EQ(out.substr(9), payload);
}

} // namespace container_log_output_framed_test
