// lazy/toc and lazy/writer: the cases of stargz-snapshotter's estargz/testutil.go
// CompressionTestSuite (testBuild, testDigestAndVerify, testWriteAndOpen) ported to gantry's
// writer and reader, the footer's byte layout (docs/estargz.md §Footer), and hostile TOCs.
#include "lazy/toc.hpp"
#include "lazy/writer.hpp"
#include "lazy/zstd_chunked_writer.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <vector>
#include <zlib.h>

namespace lazy_estargz_test {

using namespace gantry;
using nlohmann::json;

namespace {

struct In {
    std::string name;
    mode_t type;
    std::string data; // content, or a link's target
    std::map<std::string, std::string> xattrs = {};
};

// A gzip tar of ENTRIES (libarchive, pax).
std::string make_tar(const std::vector<In>& entries) {
    std::string out;
    archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
    archive_write_open(
        a, &out, nullptr,
        [](archive*, void* o, const void* b, size_t n) -> la_ssize_t {
            static_cast<std::string*>(o)->append(static_cast<const char*>(b), n);
            return static_cast<la_ssize_t>(n);
        },
        nullptr);
    for (auto& i : entries) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, i.name.c_str());
        archive_entry_set_uid(e, 1000);
        archive_entry_set_gid(e, 100);
        archive_entry_set_mtime(e, 1700000000, 0);
        if (i.type == 0) { // hardlink
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, i.data.c_str());
            archive_entry_set_perm(e, 0644);
        } else {
            archive_entry_set_filetype(e, i.type);
            archive_entry_set_perm(e, i.type == AE_IFDIR ? 0755 : 0640);
            if (i.type == AE_IFLNK) archive_entry_set_symlink(e, i.data.c_str());
            if (i.type == AE_IFREG)
                archive_entry_set_size(e, static_cast<la_int64_t>(i.data.size()));
            if (i.type == AE_IFCHR) archive_entry_set_rdev(e, makedev(1, 3));
        }
        for (auto& [k, v] : i.xattrs)
            archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
        archive_write_header(a, e);
        if (i.type == AE_IFREG) archive_write_data(a, i.data.data(), i.data.size());
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

int memfd_with(const std::string& data) {
    int fd = ::memfd_create("t", 0);
    EXPECT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::lseek(fd, 0, SEEK_SET);
    return fd;
}

std::string read_all(int fd) {
    std::string s;
    char b[65536];
    ::lseek(fd, 0, SEEK_SET);
    for (ssize_t n; (n = ::read(fd, b, sizeof b)) > 0;) s.append(b, static_cast<std::size_t>(n));
    return s;
}

struct Built {
    std::string blob;
    lazy::EstargzLayer layer;
};

Built build(const std::vector<In>& entries, std::uint64_t chunk) {
    int in = memfd_with(make_tar(entries));
    int out = ::memfd_create("o", 0);
    Built b;
    b.layer = lazy::write_estargz(in, out, "layer t", chunk);
    b.blob = read_all(out);
    ::close(in);
    ::close(out);
    return b;
}

lazy::Toc open_toc(const std::string& blob, const std::string& digest) {
    return lazy::Toc::read(
        [&](std::uint64_t off, std::size_t len) { return blob.substr(off, len); }, blob.size(),
        digest, "layer t");
}

const lazy::Node& at(const lazy::Toc& t, const std::string& path) {
    std::uint32_t n = 0;
    std::size_t i = 0;
    while (i < path.size()) {
        std::size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        n = t.nodes[n].children.at(path.substr(i, j - i));
        i = j + 1;
    }
    return t.nodes[n];
}

std::string file_bytes(const std::string& blob, const lazy::Node& f) {
    std::string s;
    for (auto& c : f.chunks)
        s += lazy::inflate_chunk(std::string_view(blob).substr(c.offset, c.end - c.offset), c,
                                 "layer t");
    return s;
}

std::string big(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7919) % 251);
    return s;
}

const std::vector<In>& sample() {
    static const std::vector<In> v = {
        {"etc/", AE_IFDIR, ""},
        {"etc/hello", AE_IFREG, "hello world\n", {{"user.note", std::string("v\0x", 3)}}},
        {"etc/empty", AE_IFREG, ""},
        {"etc/big", AE_IFREG, big(10000)},
        {"etc/link", AE_IFLNK, "hello"},
        {"etc/hard", 0, "etc/hello"},
        {"dev/", AE_IFDIR, ""},
        {"dev/null", AE_IFCHR, ""},
        {"dev/pipe", AE_IFIFO, ""},
        {"old/.wh.gone", AE_IFREG, ""},
        {"opq/.wh..wh..opq", AE_IFREG, ""},
        {"deep/a/b/c", AE_IFREG, "c"},
    };
    return v;
}

} // namespace

TEST(Estargz, FooterLayout) {
    std::string f = lazy::footer_bytes(0x1234);
    ASSERT_EQ(f.size(), lazy::kFooterSize);
    EXPECT_EQ(f.substr(0, 4), std::string("\x1f\x8b\x08\x04", 4));
    EXPECT_EQ(f.substr(10, 6), std::string("\x1a\x00SG\x16\x00", 6));
    EXPECT_EQ(f.substr(16, 22), "0000000000001234STARGZ");
    lazy::Footer p;
    ASSERT_TRUE(lazy::parse_footer("junk" + f, p));
    EXPECT_EQ(p.toc_offset, 0x1234u);
    EXPECT_EQ(p.size, lazy::kFooterSize);
    // an empty gzip member: gunzip reads it as nothing
    z_stream z{};
    inflateInit2(&z, 31);
    char out[16];
    z.next_in = reinterpret_cast<Bytef*>(f.data());
    z.avail_in = static_cast<uInt>(f.size());
    z.next_out = reinterpret_cast<Bytef*>(out);
    z.avail_out = sizeof out;
    EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
    EXPECT_EQ(z.total_out, 0u);
    inflateEnd(&z);
    // not a footer: the hex or the magic broken
    std::string bad = f;
    bad[20] = 'g';
    EXPECT_FALSE(lazy::parse_footer(bad, p));
    bad = f;
    bad[34] = 'X';
    EXPECT_FALSE(lazy::parse_footer(bad, p));
}

// testBuild: the TOC describes every entry with its metadata; whiteouts, landmarks and the TOC
// are not entries of the tree.
TEST(Estargz, BuildDescribesEveryEntry) {
    for (std::uint64_t chunk : {64ull, 4000ull, 1ull << 22}) {
        Built b = build(sample(), chunk);
        lazy::Toc t = open_toc(b.blob, b.layer.toc_digest);
        const auto& hello = at(t, "etc/hello");
        EXPECT_TRUE(S_ISREG(hello.mode));
        EXPECT_EQ(hello.mode & 07777, 0640u);
        EXPECT_EQ(hello.uid, 1000u);
        EXPECT_EQ(hello.gid, 100u);
        EXPECT_EQ(hello.mtime, 1700000000);
        EXPECT_EQ(hello.nlink, 2u); // etc/hard
        EXPECT_EQ(&at(t, "etc/hard"), &hello);
        ASSERT_EQ(hello.xattrs.size(), 1u);
        EXPECT_EQ(hello.xattrs[0].second, std::string("v\0x", 3));
        EXPECT_EQ(at(t, "etc/link").link, "hello");
        EXPECT_TRUE(S_ISCHR(at(t, "dev/null").mode));
        EXPECT_EQ(at(t, "dev/null").dev_major, 1u);
        EXPECT_EQ(at(t, "dev/null").dev_minor, 3u);
        EXPECT_TRUE(S_ISFIFO(at(t, "dev/pipe").mode));
        EXPECT_EQ(at(t, "etc/big").chunks.size(), (10000 + chunk - 1) / chunk);
        EXPECT_EQ(at(t, "old").whiteouts, std::set<std::string>{"gone"});
        EXPECT_TRUE(at(t, "old").children.empty());
        EXPECT_TRUE(at(t, "opq").opaque);
        EXPECT_TRUE(S_ISDIR(at(t, "deep/a/b").mode)); // made as a parent
        EXPECT_EQ(t.nodes[0].children.count(lazy::kTocName), 0u);
        EXPECT_EQ(t.nodes[0].children.count(".no.prefetch.landmark"), 0u);
    }
}

// testDigestAndVerify: every chunk inflates to bytes matching its digest, files reassemble, a
// changed byte is refused.
TEST(Estargz, ChunksVerifyAndAlteredBytesAreRefused) {
    Built b = build(sample(), 1000);
    lazy::Toc t = open_toc(b.blob, b.layer.toc_digest);
    EXPECT_EQ(file_bytes(b.blob, at(t, "etc/big")), big(10000));
    EXPECT_EQ(file_bytes(b.blob, at(t, "etc/hello")), "hello world\n");
    const auto& c = at(t, "etc/big").chunks[3];
    std::string altered = b.blob;
    altered[c.offset + 12] ^= 1; // inside the deflate data
    try {
        lazy::inflate_chunk(std::string_view(altered).substr(c.offset, c.end - c.offset), c,
                            "layer t");
        ADD_FAILURE() << "an altered chunk was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(std::string(e.what()).find("layer t"), std::string::npos);
    }
    // a TOC digest that is not the manifest's
    EXPECT_THROW(open_toc(b.blob, "sha256:" + std::string(64, '0')), Error);
}

// testWriteAndOpen: the blob is an ordinary gzip tar (what plain clients read) holding the input
// entries, the landmark and the TOC; its diff_id is the sha256 of that tar.
TEST(Estargz, BlobIsAPlainGzipTar) {
    Built b = build(sample(), 1000);
    EXPECT_EQ(b.layer.digest.hex(), Sha256::hex_of(b.blob));
    EXPECT_EQ(b.layer.size, b.blob.size());
    archive* a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    ASSERT_EQ(archive_read_open_memory(a, b.blob.data(), b.blob.size()), ARCHIVE_OK);
    std::vector<std::string> names;
    std::map<std::string, std::string> data;
    archive_entry* e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        names.push_back(archive_entry_pathname(e));
        std::string d(static_cast<std::size_t>(archive_entry_size(e)), '\0');
        if (!d.empty()) archive_read_data(a, d.data(), d.size());
        data[names.back()] = d;
    }
    archive_read_free(a);
    ASSERT_EQ(names.size(), sample().size() + 2);
    EXPECT_EQ(names.front(), ".no.prefetch.landmark");
    EXPECT_EQ(names.back(), lazy::kTocName);
    EXPECT_EQ(data["etc/big"], big(10000));
    EXPECT_EQ("sha256:" + Sha256::hex_of(data[lazy::kTocName]), b.layer.toc_digest);
    // the uncompressed stream's digest is the diff_id
    std::string tar;
    z_stream z{};
    inflateInit2(&z, 31);
    z.next_in = reinterpret_cast<Bytef*>(b.blob.data());
    z.avail_in = static_cast<uInt>(b.blob.size());
    char buf[65536];
    for (;;) {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        int rc = inflate(&z, Z_NO_FLUSH);
        tar.append(buf, sizeof buf - z.avail_out);
        if (rc == Z_STREAM_END) {
            if (z.avail_in == 0) break;
            inflateReset(&z);
        } else if (rc != Z_OK) {
            break;
        }
    }
    inflateEnd(&z);
    EXPECT_EQ(b.layer.diff_id.hex(), Sha256::hex_of(tar));
    EXPECT_EQ(b.layer.tar_size, tar.size());
}

// Hostile TOCs: each refused with an Error(invalid) saying what is wrong.
void expect_refused(const json& toc, const char* why, std::uint64_t toc_offset = 100000) {
    try {
        lazy::Toc::parse(toc.dump(), toc_offset, "layer t");
        ADD_FAILURE() << "accepted: " << why;
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid) << why;
        EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
}

json reg(const std::string& name, std::uint64_t size, std::uint64_t off) {
    return {{"name", name},
            {"type", "reg"},
            {"size", size},
            {"offset", off},
            {"chunkDigest", "sha256:" + std::string(64, 'a')}};
}

TEST(Estargz, HostileTocsAreRefused) {
    // a vector, not a json: clang reads json{one_object} as a copy of it, gcc as an array
    auto doc = [](std::vector<json> entries) { return json{{"version", 1}, {"entries", entries}}; };
    expect_refused(doc({reg("../x", 1, 10)}), "'..'");
    expect_refused(doc({reg("a/../../x", 1, 10)}), "'..'");
    expect_refused(doc({reg("/etc/x", 1, 10)}), "absolute");
    expect_refused(doc({reg(std::string("a\0b", 3), 1, 10)}), "NUL");
    expect_refused(doc({reg("a//b", 1, 10)}), "empty component");
    expect_refused(doc({reg("x", 1, 10), reg("x", 1, 20)}), "duplicate");
    expect_refused(doc({reg("x", 1, 200000)}), "past the table of contents");
    expect_refused(doc({reg("x", 1, 50), reg("y", 1, 20)}), "goes back");
    json two = reg("x", 100, 10);
    two["chunkSize"] = 60;
    json next = {{"name", "x"},
                 {"type", "chunk"},
                 {"offset", 30},
                 {"chunkOffset", 50},
                 {"chunkDigest", "sha256:" + std::string(64, 'a')}};
    expect_refused(doc({two, next}), "overlapping");
    two["chunkSize"] = 40;
    next["chunkSize"] = 10; // 40 + 10 of 100 bytes
    next["chunkOffset"] = 40;
    expect_refused(doc({two, next}), "do not cover");
    json nodigest = reg("x", 1, 10);
    nodigest.erase("chunkDigest");
    expect_refused(doc({nodigest}), "sha256");
    expect_refused(doc({{{"name", "h"}, {"type", "hardlink"}, {"linkName", "nothere"}}}),
                   "hard link");
    expect_refused(doc({{{"name", "x"}, {"type", "socket"}}}), "unknown type");
    expect_refused(doc({{{"name", 7}, {"type", "reg"}}}), "wrong type");
    expect_refused(json{{"version", 2}, {"entries", json::array()}}, "version 1");
    expect_refused(doc({reg("f", 0, 0), reg("f/g", 0, 0)}), "non-directory");
    // numbers that are not whole numbers in range (fuzz_zstd_chunked_toc: "chunkSize": 1.1e35
    // was a float-to-integer conversion out of range, undefined behaviour)
    for (const char* key : {"size", "offset", "chunkSize", "mode", "uid"})
        for (json bad : {json(1.1e35), json(0.5), json(-1), json(4294967296.0)}) {
            json e = reg("x", 1, 10);
            e[key] = bad;
            expect_refused(doc({e}), "not a whole number");
        }
    json big_uid = reg("x", 1, 10);
    big_uid["uid"] = 4294967296u; // past a uid
    expect_refused(doc({big_uid}), "not a whole number");
    expect_refused(json{{"version", 1e300}, {"entries", json::array()}}, "not a whole number");
}

// 10^7 entries: refused by the TOC's size before a byte of it is read or parsed.
TEST(Estargz, HugeTocIsRefusedBeforeReading) {
    std::uint64_t blob = 10'000'000ull * 40 + lazy::kFooterSize;
    std::string footer = lazy::footer_bytes(0);
    std::size_t reads = 0;
    try {
        lazy::Toc::read(
            [&](std::uint64_t off, std::size_t len) {
                ++reads;
                EXPECT_EQ(off, blob - lazy::kFooterSize);
                return footer.substr(0, len);
            },
            blob, "sha256:" + std::string(64, '0'), "layer t");
        ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("MiB"), std::string::npos) << e.what();
    }
    EXPECT_EQ(reads, 1u);
}

} // namespace lazy_estargz_test

namespace lazy_estargz_test {

// A Linux name is any bytes; a TOC is JSON, whose strings are UTF-8 (Go's encoding/json would
// write U+FFFD and the TOC would name another file). Both writers refuse the entry, naming it.
TEST(Estargz, ANameThatIsNotUtf8IsRefusedByBothWritersNamingTheEntry) {
    const std::vector<std::vector<In>> layers = {
        {{"etc", AE_IFDIR, ""}, {"etc/caf\xe9", AE_IFREG, "x"}},
        {{"etc", AE_IFDIR, ""}, {"etc/link", AE_IFLNK, "caf\xe9"}},
        {{"etc", AE_IFDIR, ""}, {"etc/x", AE_IFREG, "x", {{"user.caf\xe9", "v"}}}},
    };
    for (const auto& entries : layers) {
        std::string shown =
            entries[1].name == "etc/caf\xe9" ? "etc/caf\xef\xbf\xbd" : entries[1].name;
        for (bool zstd : {false, true}) {
            SCOPED_TRACE(shown + (zstd ? " zstd:chunked" : " eStargz"));
            int in = memfd_with(make_tar(entries));
            int out = ::memfd_create("o", 0);
            try {
                if (zstd)
                    (void)lazy::zstd_chunked::write_layer(in, out, "layer t", 4000);
                else
                    (void)lazy::write_estargz(in, out, "layer t", 4000);
                ADD_FAILURE() << "written";
            } catch (const Error& e) {
                EXPECT_EQ(e.code(), Errc::unsupported);
                EXPECT_NE(std::string(e.what()).find("layer t: entry \"" + shown + "\""),
                          std::string::npos)
                    << e.what();
                EXPECT_NE(std::string(e.what()).find("not UTF-8"), std::string::npos);
                EXPECT_NE(std::string(e.what()).find(zstd ? "zstd:chunked" : "eStargz"),
                          std::string::npos);
            }
            ::close(in);
            ::close(out);
        }
    }
}

} // namespace lazy_estargz_test
