#include "sqsh/format.hpp"
#include "util/error.hpp"

#include <cstring>
#include <gtest/gtest.h>

namespace sqsh_format_test {

using namespace gantry;

namespace {

// A superblock as tar2sqfs writes one for a small image (fields little-endian).
std::string superblock() {
    std::string b(96, '\0');
    auto put = [&](std::size_t off, std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) b[off + i] = static_cast<char>((v >> (8 * i)) & 0xff);
    };
    std::memcpy(b.data(), "hsqs", 4);
    put(4, 49, 4);         // inodes
    put(12, 131072, 4);    // block size
    put(20, 6, 2);         // zstd
    put(22, 17, 2);        // block log
    put(26, 1, 2);         // ids
    put(28, 4, 2);         // major
    put(32, 0x1d40000, 8); // root inode: block 0x1d4 of the inode table, offset 0
    put(40, 1110000, 8);   // bytes used
    put(48, 1109900, 8);   // id table
    put(56, ~0ull, 8);     // no xattrs
    put(64, 1100000, 8);   // inode table
    put(72, 1101000, 8);   // directory table
    put(80, 1109800, 8);   // fragment table
    put(88, ~0ull, 8);     // no export table
    return b;
}

void expect_refused(const std::string& b, std::uint64_t size, const char* why) {
    try {
        sqsh::check_superblock(b, size, "x.sqsh");
        ADD_FAILURE() << "accepted: " << why;
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find(why), std::string::npos) << e.message();
    }
}

} // namespace

TEST(Superblock, AcceptsAWellFormedOne) {
    auto sb = sqsh::check_superblock(superblock(), 1114112, "x.sqsh");
    EXPECT_EQ(sb.inodes, 49u);
    EXPECT_EQ(sqsh::compression_name(sb.compression), "zstd");
}

TEST(Superblock, RefusesWhatDoesNotFit) {
    auto b = superblock();
    expect_refused(b, 600000, "truncated?"); // bytes_used beyond the file
    expect_refused(b.substr(0, 50), 1114112, "truncated");
    auto c = b;
    c[0] = 'x';
    expect_refused(c, 1114112, "magic");
    c = b;
    c[4] = c[5] = c[6] = c[7] = '\xff'; // 4 billion inodes in a 1000-byte inode table
    expect_refused(c, 1114112, "inodes cannot fit");
    c = b;
    c[22] = 16; // block log disagrees with the block size
    expect_refused(c, 1114112, "block size");
    c[22] = 40; // a log no shift may take (fuzz/fuzz_sqsh_header found the UB)
    expect_refused(c, 1114112, "block size");
    c = b;
    c[20] = 9;
    expect_refused(c, 1114112, "unknown compressor");
    c = b;
    c[37] = 0x7f; // root inode far past the inode table
    expect_refused(c, 1114112, "root inode");
}

TEST(Header, RoundTripsAndVerifiesTheConfigDigest) {
    sqsh::Header h;
    h.config = R"({"config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[]}})";
    h.config_digest = oci::Digest::of(h.config);
    h.manifest = oci::Digest::of("manifest");
    h.diff_ids = {oci::Digest::of("layer")};
    auto back = sqsh::parse_header(sqsh::header_json(h), "x.sqsh");
    EXPECT_EQ(back.config, h.config);
    EXPECT_EQ(back.diff_ids.size(), 1u);
    auto tampered = sqsh::header_json(h);
    tampered.replace(tampered.find("sh\\\""), 2, "ls");
    try {
        sqsh::parse_header(tampered, "x.sqsh");
        ADD_FAILURE() << "a config that does not match its digest was accepted";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("does not match its digest"), std::string::npos);
    }
    EXPECT_THROW(sqsh::parse_header(R"({"format":2})", "x"), Error);
    EXPECT_THROW(sqsh::parse_header("not json", "x"), Error);
}

} // namespace sqsh_format_test
