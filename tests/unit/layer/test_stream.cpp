// Layer pipeline streams: FdReader, HashingReader, PrefixedReader and the gzip/zstd/plain
// decompressors. Compressed test data is made with the system's gzip and zstd tools.
#include "layer/stream.hpp"
#include "oci/digest.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/hash.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace layer_stream_test {

using gantry::Errc;
using gantry::Error;
using gantry::Fd;
using gantry::Sha256;
using gantry::layer::drain;
using gantry::layer::FdReader;
using gantry::layer::HashingReader;
using gantry::layer::make_decompressor;
using gantry::layer::PrefixedReader;
using gantry::layer::Reader;
using gantry::oci::Compression;
namespace stdfs = std::filesystem;

namespace {

// Serves a string, at most `chunk` bytes per read.
class StringReader final : public Reader {
  public:
    explicit StringReader(std::string data, std::size_t chunk = 1 << 20)
        : data_(std::move(data)), chunk_(chunk) {}
    std::size_t read(void* buf, std::size_t n) override {
        n = std::min({n, chunk_, data_.size() - pos_});
        std::memcpy(buf, data_.data() + pos_, n);
        pos_ += n;
        return n;
    }
    std::size_t pos() const { return pos_; }

  private:
    std::string data_;
    std::size_t chunk_;
    std::size_t pos_ = 0;
};

class TempDir {
  public:
    TempDir() {
        std::string tmpl = (stdfs::temp_directory_path() / "gantry-stream-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        stdfs::remove_all(path_, ec);
    }
    const stdfs::path& path() const { return path_; }

  private:
    stdfs::path path_;
};

void write_file(const stdfs::path& p, const std::string& data) {
    std::ofstream f(p, std::ios::binary);
    f.write(data.data(), static_cast<std::streamsize>(data.size()));
    ASSERT_TRUE(f.good()) << p;
}

std::string slurp(const stdfs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

// Runs `cmd < data` through the shell and returns its stdout.
std::string run_filter(const std::string& cmd, const std::string& data) {
    TempDir dir;
    auto in = dir.path() / "in";
    write_file(in, data);
    std::string full = cmd + " < '" + in.string() + "'";
    FILE* p = ::popen(full.c_str(), "r");
    if (!p) throw std::runtime_error("popen failed: " + full);
    std::string out;
    char buf[65536];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    int rc = ::pclose(p);
    if (rc != 0) throw std::runtime_error("command failed: " + full);
    return out;
}

std::string gzip(const std::string& data) {
    return run_filter("gzip -c -n -6", data);
}
std::string zstd(const std::string& data, const std::string& flags = "") {
    return run_filter("zstd -q -c " + flags, data);
}

// Deterministic, moderately compressible test data.
std::string sample(std::size_t n, unsigned seed = 1) {
    std::string s;
    s.reserve(n);
    unsigned x = seed * 2654435761u + 12345u;
    while (s.size() < n) {
        x = x * 1103515245u + 12345u;
        unsigned r = (x >> 16) & 0x7fff;
        if (r % 5 == 0)
            s += "line " + std::to_string(r) + "\n";
        else
            s += static_cast<char>('a' + r % 26);
    }
    s.resize(n);
    return s;
}

// Reads r to the end in reads of `step` bytes.
std::string read_all(Reader& r, std::size_t step = 1 << 16) {
    std::string out;
    std::vector<char> buf(step);
    while (std::size_t n = r.read(buf.data(), buf.size())) {
        EXPECT_LE(n, step);
        out.append(buf.data(), n);
    }
    return out;
}

std::string decompress(Compression c, const std::string& data, std::size_t step = 1 << 16,
                       std::size_t src_chunk = 1 << 20) {
    StringReader src(data, src_chunk);
    auto r = make_decompressor(c, src, "test layer");
    return read_all(*r, step);
}

struct Failure {
    Errc code;
    std::string message;
};

std::optional<Failure> decompress_failure(Compression c, const std::string& data,
                                          std::size_t step = 1 << 16) {
    try {
        (void)decompress(c, data, step);
    } catch (const Error& e) {
        return Failure{e.code(), e.message()};
    }
    return std::nullopt;
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

} // namespace

// --- FdReader --------------------------------------------------------------------------------

TEST(FdReader, WholeFileAndRanges) {
    TempDir dir;
    auto p = dir.path() / "f";
    std::string data = sample(100000);
    write_file(p, data);
    Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd);

    FdReader all(fd.get(), "f");
    EXPECT_EQ(read_all(all, 4096), data);
    char c;
    EXPECT_EQ(all.read(&c, 1), 0u); // stays at EOF

    FdReader mid(fd.get(), "f", 1000, 5000);
    EXPECT_EQ(read_all(mid, 777), data.substr(1000, 5000));

    FdReader tail(fd.get(), "f", 99990);
    EXPECT_EQ(read_all(tail), data.substr(99990));

    FdReader exact(fd.get(), "f", 90000, 10000); // ends exactly at EOF
    EXPECT_EQ(read_all(exact, 3000), data.substr(90000));

    FdReader none(fd.get(), "f", 10, 0);
    EXPECT_EQ(none.read(&c, 1), 0u);

    // pread: ranged readers do not disturb each other or the fd offset.
    FdReader a(fd.get(), "f", 0, 10), b(fd.get(), "f", 50, 10);
    char x[10], y[10];
    ASSERT_EQ(a.read(x, 5), 5u);
    ASSERT_EQ(b.read(y, 10), 10u);
    ASSERT_EQ(a.read(x + 5, 5), 5u);
    EXPECT_EQ(std::string(x, 10), data.substr(0, 10));
    EXPECT_EQ(std::string(y, 10), data.substr(50, 10));
    EXPECT_EQ(::lseek(fd.get(), 0, SEEK_CUR), 0);
}

TEST(FdReader, TruncatedRange) {
    TempDir dir;
    auto p = dir.path() / "short";
    write_file(p, "0123456789");
    Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd);
    FdReader r(fd.get(), "archive member blob", 4, 100);
    char buf[64];
    EXPECT_EQ(r.read(buf, sizeof buf), 6u);
    EXPECT_EQ(std::string(buf, 6), "456789");
    try {
        r.read(buf, sizeof buf);
        FAIL() << "no error at the premature end";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_TRUE(contains(e.message(), "archive member blob")) << e.message();
        EXPECT_TRUE(contains(e.message(), "truncated")) << e.message();
        EXPECT_TRUE(contains(e.message(), "94")) << e.message();
    }
}

TEST(FdReader, BadFdIsAnError) {
    FdReader r(-1, "nothing");
    char buf[4];
    try {
        r.read(buf, sizeof buf);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_TRUE(contains(e.message(), "nothing")) << e.message();
    }
}

// --- HashingReader / PrefixedReader / drain --------------------------------------------------

TEST(HashingReader, DigestCountAndTee) {
    TempDir dir;
    std::string data = sample(300000, 7);
    auto tee_path = dir.path() / "tee";
    Fd tee(::open(tee_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    ASSERT_TRUE(tee);
    StringReader src(data, 1000);
    HashingReader h(src, tee.get(), "tee file");
    std::string out = read_all(h, 4093);
    EXPECT_EQ(out, data);
    EXPECT_EQ(h.count(), data.size());
    EXPECT_EQ(h.hex_final(), gantry::oci::Digest::of(data).hex());
    tee.reset();
    EXPECT_EQ(slurp(tee_path), data);
}

TEST(HashingReader, WithoutTeeAndEmpty) {
    StringReader src("abc");
    HashingReader h(src);
    EXPECT_EQ(drain(h), 3u);
    EXPECT_EQ(h.count(), 3u);
    EXPECT_EQ(h.hex_final(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    StringReader empty("");
    HashingReader e(empty);
    EXPECT_EQ(drain(e), 0u);
    EXPECT_EQ(e.count(), 0u);
    EXPECT_EQ(e.hex_final(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(HashingReader, TeeWriteFailureIsAnError) {
    StringReader src("some bytes");
    Fd ro(::open("/dev/null", O_RDONLY | O_CLOEXEC)); // not writable
    ASSERT_TRUE(ro);
    HashingReader h(src, ro.get(), "the blob file");
    char buf[16];
    try {
        h.read(buf, sizeof buf);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_TRUE(contains(e.message(), "the blob file")) << e.message();
    }
}

TEST(PrefixedReader, ServesPrefixThenRest) {
    StringReader rest("world", 2);
    std::string pre = "hello ";
    PrefixedReader r(std::vector<unsigned char>(pre.begin(), pre.end()), rest);
    char buf[4];
    ASSERT_EQ(r.read(buf, 4), 4u);
    EXPECT_EQ(std::string(buf, 4), "hell");
    ASSERT_EQ(r.read(buf, 4), 2u); // the rest of the prefix, not mixed with src
    EXPECT_EQ(std::string(buf, 2), "o ");
    EXPECT_EQ(read_all(r, 3), "world");
    EXPECT_EQ(r.read(buf, 4), 0u);

    StringReader only("xyz");
    PrefixedReader empty_prefix({}, only);
    EXPECT_EQ(read_all(empty_prefix), "xyz");

    StringReader nothing("");
    PrefixedReader prefix_only({'a', 'b'}, nothing);
    EXPECT_EQ(read_all(prefix_only, 1), "ab");
}

TEST(Drain, CountsEverything) {
    StringReader src(sample(200000), 4097);
    EXPECT_EQ(drain(src), 200000u);
    EXPECT_EQ(src.pos(), 200000u);
}

// --- plain -----------------------------------------------------------------------------------

TEST(Decompress, PlainPassesThrough) {
    std::string data = sample(50000);
    EXPECT_EQ(decompress(Compression::none, data, 333, 1000), data);
    EXPECT_EQ(decompress(Compression::none, ""), "");
}

// --- gzip ------------------------------------------------------------------------------------

TEST(Gzip, Decompresses) {
    std::string data = sample(600000, 3);
    std::string gz = gzip(data);
    ASSERT_GT(gz.size(), 20u);
    EXPECT_LT(gz.size(), data.size());
    EXPECT_EQ(decompress(Compression::gzip, gz), data);
    // Whatever the read sizes on either side.
    EXPECT_EQ(decompress(Compression::gzip, gz, 1 << 20, 1), data.substr(0, data.size()));
    EXPECT_EQ(decompress(Compression::gzip, gz, 4093, 777), data);
    EXPECT_EQ(decompress(Compression::gzip, gz, 1 << 20, 1 << 20), data);
}

TEST(Gzip, SmallOutputReads) {
    // Output buffers much smaller than what a deflate block expands to.
    std::string data = sample(200000, 4);
    std::string gz = gzip(data);
    for (std::size_t step : {1, 7, 100, 4096}) {
        SCOPED_TRACE(step);
        EXPECT_EQ(decompress(Compression::gzip, gz, step), data);
    }
}

TEST(Gzip, OptionalHeaderFields) {
    // FNAME and FCOMMENT (as `gzip file` writes) between the fixed header and the data.
    std::string data = sample(20000, 16);
    std::string gz = gzip(data);
    ASSERT_EQ(gz[3], '\0'); // -n and stdin: no optional fields
    std::string named = gz.substr(0, 10) + std::string("layer.tar\0", 10) +
                        std::string("a comment\0", 10) + gz.substr(10);
    named[3] = static_cast<char>(0x08 | 0x10);
    EXPECT_EQ(decompress(Compression::gzip, named), data);
    EXPECT_EQ(decompress(Compression::gzip, named + named, 1000, 7), data + data);
}

TEST(Gzip, EmptyPayload) {
    std::string gz = gzip("");
    EXPECT_EQ(decompress(Compression::gzip, gz), "");
}

TEST(Gzip, MultiMember) {
    std::string a = sample(70000, 5), b = sample(90000, 6);
    std::string gz = gzip(a) + gzip(b);
    EXPECT_EQ(decompress(Compression::gzip, gz), a + b);
    EXPECT_EQ(decompress(Compression::gzip, gz, 1000, 3), a + b);
    // Three members, one of them empty.
    std::string three = gzip("hello ") + gzip("") + gzip("world");
    EXPECT_EQ(decompress(Compression::gzip, three), "hello world");
    EXPECT_EQ(decompress(Compression::gzip, three, 1, 1), "hello world");
}

TEST(Gzip, Truncated) {
    std::string data = sample(300000, 8);
    std::string gz = gzip(data);
    for (std::size_t keep : {std::size_t{0}, std::size_t{5}, std::size_t{10}, gz.size() / 2,
                             gz.size() - 8, gz.size() - 4, gz.size() - 1}) {
        SCOPED_TRACE(keep);
        auto f = decompress_failure(Compression::gzip, gz.substr(0, keep));
        ASSERT_TRUE(f);
        EXPECT_EQ(f->code, Errc::invalid);
        EXPECT_TRUE(contains(f->message, "truncated")) << f->message;
        EXPECT_TRUE(contains(f->message, "test layer")) << f->message;
    }
    // A second member cut short.
    auto f = decompress_failure(Compression::gzip, gz + gz.substr(0, 100));
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "truncated")) << f->message;
}

TEST(Gzip, Corrupt) {
    std::string data = sample(100000, 9);
    std::string gz = gzip(data);

    std::string bad_crc = gz;
    bad_crc[bad_crc.size() - 6] ^= 0x55; // CRC32 in the trailer
    auto f = decompress_failure(Compression::gzip, bad_crc);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "test layer")) << f->message;

    std::string bad_len = gz;
    bad_len[bad_len.size() - 2] ^= 0x01; // ISIZE in the trailer
    f = decompress_failure(Compression::gzip, bad_len);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);

    std::string bad_method = gz;
    bad_method[2] = 0x09; // compression method other than deflate
    f = decompress_failure(Compression::gzip, bad_method);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "corrupt")) << f->message;

    std::string bad_magic = gz;
    bad_magic[0] = 'x';
    f = decompress_failure(Compression::gzip, bad_magic);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "corrupt")) << f->message;

    std::string garbage_body = gz;
    for (std::size_t i = 20; i < 200; ++i) garbage_body[i] = static_cast<char>(0xff);
    f = decompress_failure(Compression::gzip, garbage_body);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);

    // Trailing garbage after a complete member is not a gzip member.
    f = decompress_failure(Compression::gzip, gz + "garbage!");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
}

// --- zstd ------------------------------------------------------------------------------------

TEST(Zstd, Decompresses) {
    std::string data = sample(600000, 10);
    std::string z = zstd(data);
    ASSERT_GE(z.size(), 4u);
    EXPECT_EQ(static_cast<unsigned char>(z[0]), 0x28);
    EXPECT_EQ(decompress(Compression::zstd, z), data);
    EXPECT_EQ(decompress(Compression::zstd, z, 1 << 20, 1), data);
    EXPECT_EQ(decompress(Compression::zstd, z, 4093, 777), data);
}

TEST(Zstd, SmallOutputReads) {
    std::string data = sample(300000, 11);
    for (const char* flags : {"", "--no-check"}) {
        std::string z = zstd(data, flags);
        for (std::size_t step : {1, 7, 100, 4096, 100000}) {
            SCOPED_TRACE(std::string(flags) + " step " + std::to_string(step));
            EXPECT_EQ(decompress(Compression::zstd, z, step), data);
        }
    }
}

TEST(Zstd, MultiFrameAndEmptyPayload) {
    std::string a = sample(70000, 12), b = sample(30000, 13);
    EXPECT_EQ(decompress(Compression::zstd, zstd(a) + zstd(b)), a + b);
    EXPECT_EQ(decompress(Compression::zstd, zstd(a) + zstd("") + zstd(b), 999, 5), a + b);
    EXPECT_EQ(decompress(Compression::zstd, zstd("")), "");
}

TEST(Zstd, Truncated) {
    std::string data = sample(300000, 14);
    std::string z = zstd(data);
    for (std::size_t keep :
         {std::size_t{3}, std::size_t{10}, z.size() / 2, z.size() - 4, z.size() - 1}) {
        SCOPED_TRACE(keep);
        auto f = decompress_failure(Compression::zstd, z.substr(0, keep));
        ASSERT_TRUE(f);
        EXPECT_EQ(f->code, Errc::invalid);
        EXPECT_TRUE(contains(f->message, "truncated")) << f->message;
        EXPECT_TRUE(contains(f->message, "test layer")) << f->message;
    }
    auto f = decompress_failure(Compression::zstd, z + z.substr(0, 50));
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "truncated")) << f->message;
}

TEST(Zstd, EmptyInputIsTruncated) {
    // Zero bytes are not a zstd stream (gzip reports the same input as truncated).
    auto f = decompress_failure(Compression::zstd, "");
    ASSERT_TRUE(f) << "empty input decoded as an empty zstd stream";
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "truncated")) << f->message;
}

TEST(Zstd, Corrupt) {
    std::string data = sample(100000, 15);
    std::string z = zstd(data);

    std::string bad_magic = z;
    bad_magic[0] = 0x00;
    auto f = decompress_failure(Compression::zstd, bad_magic);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "corrupt")) << f->message;
    EXPECT_TRUE(contains(f->message, "test layer")) << f->message;

    std::string bad_check = z;
    bad_check[bad_check.size() - 1] ^= 0x5a; // content checksum
    f = decompress_failure(Compression::zstd, bad_check);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "corrupt")) << f->message;

    f = decompress_failure(Compression::zstd, z + "garbage!");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
}

} // namespace layer_stream_test
