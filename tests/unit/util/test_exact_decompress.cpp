// util/exact_decompress against streams that lie about their size: a few bytes declaring a
// gigabyte cost what they hold, not the declared size (HIP's compressed bundles declare theirs;
// a 32-byte CCOB declaring 256 MiB had gantry zero 256 MiB on every read). The memory is measured
// in a child process, whose peak starts at what it has when forked.
#include "util/error.hpp"
#include "util/exact_decompress.hpp"

#include <functional>
#include <gtest/gtest.h>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

namespace util_exact_decompress_test {

namespace dc = gantry::decompress;

namespace {

constexpr std::uint64_t kGiB = 1u << 30;

// F's error message and the peak memory (KiB) F added, both from a child process.
std::pair<std::string, long> in_child(const std::function<void()>& f) {
    int fds[2];
    if (pipe(fds) != 0) return {"pipe failed", -1};
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        rusage before{}, after{};
        getrusage(RUSAGE_SELF, &before);
        std::string message = "(no error)";
        try {
            f();
        } catch (const gantry::Error& e) {
            message = e.message();
        }
        getrusage(RUSAGE_SELF, &after);
        long grew = after.ru_maxrss - before.ru_maxrss;
        (void)!write(fds[1], &grew, sizeof grew);
        (void)!write(fds[1], message.data(), message.size());
        _exit(0);
    }
    close(fds[1]);
    long grew = -1;
    std::string message;
    if (read(fds[0], &grew, sizeof grew) == sizeof grew) {
        char buf[4096];
        for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) message.append(buf, n);
    }
    close(fds[0]);
    waitpid(pid, nullptr, 0);
    return {message, grew};
}

std::string zlib_of(const std::string& in) {
    uLongf n = compressBound(static_cast<uLong>(in.size()));
    std::string out(n, '\0');
    compress2(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(in.data()),
              static_cast<uLong>(in.size()), Z_BEST_COMPRESSION);
    out.resize(n);
    return out;
}

} // namespace

TEST(ExactDecompress, AStreamThatLiesAboutItsSizeCostsWhatItHolds) {
    std::uint64_t consumed = 0;
    const std::string tiny = zlib_of("x");
    auto [zlib_message, zlib_grew] =
        in_child([&] { (void)dc::zlib_exact(tiny, kGiB, consumed, "the zlib stream", "its"); });
    EXPECT_NE(zlib_message.find("inflates to 1 bytes, not the declared 1073741824"),
              std::string::npos)
        << zlib_message;
    EXPECT_LT(zlib_grew, 16 * 1024) << "KiB";

    // A zstd frame whose header declares 1 GiB (Frame_Content_Size, 8 bytes, single segment)
    // over one raw block of 1 byte: zstd itself finds the frame whole.
    std::string frame("\x28\xb5\x2f\xfd\xe0", 5);
    for (int i = 0; i < 8; ++i) frame += static_cast<char>((kGiB >> (8 * i)) & 0xff);
    frame += std::string("\x09\x00\x00x", 4); // last block, raw, 1 byte
    ASSERT_EQ(ZSTD_findFrameCompressedSize(frame.data(), frame.size()), frame.size());
    ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), kGiB);
    auto [zstd_message, zstd_grew] =
        in_child([&] { (void)dc::zstd_exact(frame, kGiB, consumed, "the zstd frame"); });
    EXPECT_NE(
        zstd_message.find("the zstd frame holds at most 1 bytes, not the declared 1073741824"),
        std::string::npos)
        << zstd_message;
    EXPECT_LT(zstd_grew, 16 * 1024) << "KiB";
}

TEST(ExactDecompress, HonestStreamsOfManyChunksComeBackWhole) {
    std::string big;
    for (std::uint64_t i = 0; i < 300000; ++i) big += std::to_string(i * 7919 % 100003);
    std::uint64_t consumed = 0;
    const std::string z = zlib_of(big) + "trailing";
    EXPECT_EQ(dc::zlib_exact(z, big.size(), consumed, "z", "its"), big);
    EXPECT_EQ(consumed, z.size() - 8);
    EXPECT_THROW(dc::zlib_exact(z, big.size() - 1, consumed, "z", "its"), gantry::Error);
    EXPECT_THROW(dc::zlib_exact(z, big.size() + 1, consumed, "z", "its"), gantry::Error);
    EXPECT_THROW(dc::zlib_exact(z.substr(0, z.size() / 2), big.size(), consumed, "z", "its"),
                 gantry::Error);

    std::string s(ZSTD_compressBound(big.size()), '\0');
    s.resize(ZSTD_compress(s.data(), s.size(), big.data(), big.size(), 3));
    EXPECT_EQ(dc::zstd_exact(s, big.size(), consumed, "s"), big);
    EXPECT_EQ(consumed, s.size());
    // no content size in the frame: its blocks bound it
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
    std::string u(ZSTD_compressBound(big.size()), '\0');
    u.resize(ZSTD_compress2(cctx, u.data(), u.size(), big.data(), big.size()));
    ZSTD_freeCCtx(cctx);
    ASSERT_EQ(ZSTD_getFrameContentSize(u.data(), u.size()), ZSTD_CONTENTSIZE_UNKNOWN);
    EXPECT_EQ(dc::zstd_exact(u, big.size(), consumed, "u"), big);
    EXPECT_THROW(dc::zstd_exact(u, big.size() + 1, consumed, "u"), gantry::Error);
}

} // namespace util_exact_decompress_test
