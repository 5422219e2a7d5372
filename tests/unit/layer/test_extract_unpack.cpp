// layer::unpack_layer: the one-pass unpack that sniffs the compression, hashes the blob and the
// tar, tees the blob to a file and extracts it.
#include "extract_test_support.hpp"
#include "layer/extract.hpp"
#include "layer/unpack.hpp"
#include "oci/digest.hpp"
#include "oci/image.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace layer_extract_unpack_test {

using namespace layer_extract_test;
using gantry::Errc;
using gantry::Error;
using gantry::Fd;
using gantry::layer::ExtractOptions;
using gantry::layer::unpack_layer;
using gantry::oci::Compression;
using gantry::oci::Digest;
namespace stdfs = std::filesystem;

// --- unpack_layer ----------------------------------------------------------------------------

namespace {

std::string run_filter(const std::string& cmd, const std::string& data) {
    std::string tmpl = (stdfs::temp_directory_path() / "gantry-filter-XXXXXX").string();
    int fd = ::mkstemp(tmpl.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    gantry::fs::write_all(fd, data.data(), data.size(), tmpl);
    ::close(fd);
    std::string full = cmd + " < '" + tmpl + "'";
    FILE* p = ::popen(full.c_str(), "r");
    std::string out;
    char buf[65536];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    int rc = ::pclose(p);
    ::unlink(tmpl.c_str());
    if (rc != 0) throw std::runtime_error("command failed: " + full);
    return out;
}

std::string sample_tar() {
    return Tar()
        .dir("etc")
        .file("etc/hostname", "gantry\n")
        .file("bin/sh", std::string(50000, '\x7f'), perm(0755))
        .symlink("usr/bin/sh", "/bin/sh")
        .str();
}

} // namespace

TEST(UnpackLayer, PlainHashOnly) {
    std::string tar = sample_tar();
    StringReader src(tar, 1000);
    ExtractOptions opt;
    opt.what = "layer plain";
    auto r = unpack_layer(src, -1, -1, opt);
    EXPECT_EQ(r.compression, Compression::none);
    EXPECT_EQ(r.blob_hex, Digest::of(tar).hex());
    EXPECT_EQ(r.diff_hex, Digest::of(tar).hex());
    EXPECT_EQ(r.blob_size, tar.size());
    EXPECT_EQ(r.diff_size, tar.size());
    EXPECT_EQ(r.stats.entries, 0u);
}

TEST(UnpackLayer, GzipAndZstdHashOnly) {
    std::string tar = sample_tar();
    for (const char* cmd : {"gzip -c -n", "zstd -q -c"}) {
        SCOPED_TRACE(cmd);
        std::string blob = run_filter(cmd, tar);
        StringReader src(blob, 777);
        ExtractOptions opt;
        opt.what = "layer compressed";
        auto r = unpack_layer(src, -1, -1, opt);
        EXPECT_EQ(r.compression, cmd[0] == 'g' ? Compression::gzip : Compression::zstd);
        EXPECT_EQ(r.blob_hex, Digest::of(blob).hex());
        EXPECT_EQ(r.blob_size, blob.size());
        EXPECT_EQ(r.diff_hex, Digest::of(tar).hex());
        EXPECT_EQ(r.diff_size, tar.size());
    }
}

TEST(UnpackLayer, TeeAndExtract) {
    std::string tar = sample_tar();
    std::string blob = run_filter("gzip -c -n", tar);
    Sandbox sb;
    auto tee_path = sb.top() / "tee";
    Fd tee(::open(tee_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    ASSERT_TRUE(tee);
    StringReader src(blob, 100);
    ExtractOptions opt;
    opt.what = "layer tee";
    auto r = unpack_layer(src, tee.get(), sb.root_fd(), opt);
    tee.reset();
    EXPECT_EQ(slurp(tee_path), blob);
    EXPECT_EQ(r.compression, Compression::gzip);
    EXPECT_EQ(r.blob_hex, Digest::of(blob).hex());
    EXPECT_EQ(r.diff_hex, Digest::of(tar).hex());
    EXPECT_EQ(r.diff_size, tar.size());
    EXPECT_EQ(r.stats.files, 2u);
    EXPECT_EQ(r.stats.dirs, 1u);
    EXPECT_EQ(r.stats.symlinks, 1u);
    EXPECT_EQ(slurp(sb.root() / "etc/hostname"), "gantry\n");
    EXPECT_EQ(stdfs::read_symlink(sb.root() / "usr/bin/sh"), "/bin/sh");
}

TEST(UnpackLayer, TinyAndEmptyBlobs) {
    // Shorter than the sniffing window.
    std::string tiny = "abc";
    StringReader src(tiny);
    ExtractOptions opt;
    auto r = unpack_layer(src, -1, -1, opt);
    EXPECT_EQ(r.blob_hex, Digest::of(tiny).hex());
    EXPECT_EQ(r.diff_hex, Digest::of(tiny).hex());
    EXPECT_EQ(r.blob_size, 3u);

    StringReader empty("");
    r = unpack_layer(empty, -1, -1, opt);
    EXPECT_EQ(r.blob_size, 0u);
    EXPECT_EQ(r.blob_hex, Digest::of("").hex());
}

TEST(UnpackLayer, TruncatedGzipIsInvalid) {
    std::string blob = run_filter("gzip -c -n", sample_tar());
    StringReader src(blob.substr(0, blob.size() - 5));
    ExtractOptions opt;
    opt.what = "layer cut";
    try {
        unpack_layer(src, -1, -1, opt);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_TRUE(contains(e.message(), "truncated")) << e.message();
        EXPECT_TRUE(contains(e.message(), "layer cut")) << e.message();
    }
}

} // namespace layer_extract_unpack_test
