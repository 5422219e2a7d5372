// lazy/zstd_chunked_*: the footers' byte layouts of both generations (the old one as Debian 12's
// skopeo 1.9.3 wrote it, the current one as containers/storage documents it), the annotations,
// gantry's writer read back by the reader (every chunk, the tar-split reassembling the exact tar,
// the blob a plain tar+zstd stream), and hostile input refused.
#include "lazy/tar_split.hpp"
#include "lazy/zstd_chunked_toc.hpp"
#include "lazy/zstd_chunked_writer.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>
#include <zstd.h>

namespace lazy_zstd_chunked_test {

using namespace gantry;
using namespace gantry::lazy;
using nlohmann::json;

namespace {

std::string unhex(std::string_view h) {
    std::string out;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2)
        out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
    return out;
}

struct In {
    std::string name;
    mode_t type;
    std::string data; // content, a link's target
};

// a plain tar of ENTRIES (libarchive, pax)
std::string make_tar(const std::vector<In>& entries) {
    std::string out;
    archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
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
        if (i.type == 0) {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, i.data.c_str());
        } else {
            archive_entry_set_filetype(e, i.type);
            archive_entry_set_perm(e, i.type == AE_IFDIR ? 0755 : 0640);
            if (i.type == AE_IFLNK) archive_entry_set_symlink(e, i.data.c_str());
            if (i.type == AE_IFREG)
                archive_entry_set_size(e, static_cast<la_int64_t>(i.data.size()));
        }
        if (i.name == "data/x.txt") archive_entry_xattr_add_entry(e, "user.lazy", "yes", 3);
        archive_write_header(a, e);
        if (i.type == AE_IFREG) archive_write_data(a, i.data.data(), i.data.size());
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7919 + i / 977) % 251);
    return s;
}

const std::vector<In>& sample() {
    static const std::vector<In> s = {
        {"data/", AE_IFDIR, ""},
        {"data/big.bin", AE_IFREG, pattern(300000)},
        {"data/small.txt", AE_IFREG, "hello lazy\n"},
        {"data/empty", AE_IFREG, ""},
        {"data/link", AE_IFLNK, "small.txt"},
        {"data/hard", 0, "data/small.txt"},
        {"data/x.txt", AE_IFREG, "xattr\n"},
        {"data/.wh.gone", AE_IFREG, ""},
    };
    return s;
}

struct Built {
    std::string tar, blob;
    zstd_chunked::WrittenLayer layer;
};

Built build(std::uint64_t chunk) {
    Built b;
    b.tar = make_tar(sample());
    int in = ::memfd_create("i", 0), out = ::memfd_create("o", 0);
    EXPECT_EQ(::write(in, b.tar.data(), b.tar.size()), static_cast<ssize_t>(b.tar.size()));
    ::lseek(in, 0, SEEK_SET);
    b.layer = zstd_chunked::write_layer(in, out, "layer t", chunk);
    char buf[65536];
    ::lseek(out, 0, SEEK_SET);
    for (ssize_t n; (n = ::read(out, buf, sizeof buf)) > 0;)
        b.blob.append(buf, static_cast<std::size_t>(n));
    ::close(in);
    ::close(out);
    return b;
}

zstd_chunked::ReadAt reader(const std::string& blob) {
    return [&blob](std::uint64_t off, std::size_t len) { return blob.substr(off, len); };
}

const Node& at(const Toc& t, const std::string& path) {
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

std::string file_bytes(const std::string& blob, const Node& f) {
    std::string s;
    for (auto& c : f.chunks)
        s += inflate_chunk(std::string_view(blob).substr(c.offset, c.end - c.offset), c, "layer t");
    return s;
}

void expect_refused(const std::function<void()>& f, const char* why) {
    try {
        f();
        ADD_FAILURE() << "accepted: " << why;
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid) << why;
        EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
}

} // namespace

TEST(ZstdChunked, OldFooterAsDebianSkopeoWroteIt) {
    // the last 48 bytes of a layer `skopeo copy --dest-compress-format zstd:chunked` (Debian 12,
    // skopeo 1.9.3) wrote; its annotation said 600809:1405:4922:1
    std::string tail = unhex("502a4d1828000000e92a0900000000007d050000000000003a1300000000000001"
                             "00000000000000476e556c496e5578");
    zstd_chunked::Footer f;
    ASSERT_TRUE(zstd_chunked::parse_footer("padding" + tail, f));
    EXPECT_EQ(f.generation, zstd_chunked::Generation::old);
    EXPECT_EQ(f.size, 48u);
    EXPECT_EQ(f.toc, (zstd_chunked::Position{600809, 1405, 4922}));
    EXPECT_EQ(f.toc_type, 1u);
    EXPECT_FALSE(f.tar_split);
    tail.back() = 'y';
    EXPECT_FALSE(zstd_chunked::parse_footer(tail, f));
}

TEST(ZstdChunked, CurrentFooterBytesAsDocumented) {
    // the example of containers/storage's docs/containers-storage-zstd-chunked.md
    std::string want = unhex("502a4d18400000006c916206000000009e680f0000000000e74e540000000000"
                             "010000000000000012fa710600000000e2570900000000007607eb0000000000"
                             "474e556c496e5578");
    std::string got = zstd_chunked::footer_bytes({0x0662916c, 0x0f689e, 0x544ee7},
                                                 {0x0671fa12, 0x0957e2, 0xeb0776});
    EXPECT_EQ(got, want);
    zstd_chunked::Footer f;
    ASSERT_TRUE(zstd_chunked::parse_footer(got, f));
    EXPECT_EQ(f.generation, zstd_chunked::Generation::current);
    EXPECT_EQ(f.size, 72u);
    ASSERT_TRUE(f.tar_split);
    EXPECT_EQ(f.tar_split->uncompressed, 0xeb0776u);
    // containers/storage 1.48-1.49: 56 bytes, the old magic at 32-39, zeros after
    std::string buggy = got.substr(0, 8 + 32) + "GnUlInUx" + std::string(16, '\0');
    buggy[4] = 56;
    ASSERT_TRUE(zstd_chunked::parse_footer(buggy, f));
    EXPECT_EQ(f.size, 64u);
    EXPECT_EQ(f.toc.offset, 0x0662916cu);
}

TEST(ZstdChunked, AnnotationsOfBothGenerations) {
    std::map<std::string, std::string> old = {
        {"io.containers.zstd-chunked.manifest-checksum", "sha256:" + std::string(64, 'a')},
        {"io.containers.zstd-chunked.manifest-position", "600809:1405:4922:1"}};
    auto l = zstd_chunked::layout_of(old, "layer t");
    ASSERT_TRUE(l);
    EXPECT_EQ(l->generation, zstd_chunked::Generation::old);
    EXPECT_EQ(l->toc, (zstd_chunked::Position{600809, 1405, 4922}));
    EXPECT_FALSE(zstd_chunked::layout_of({}, "layer t"));
    zstd_chunked::Layout cur = *l;
    cur.generation = zstd_chunked::Generation::current;
    cur.tar_split = zstd_chunked::Position{1, 2, 3};
    auto a = zstd_chunked::annotations_of(cur);
    EXPECT_EQ(a.at("io.github.containers.zstd-chunked.manifest-position"), "600809:1405:4922:1");
    EXPECT_EQ(a.at("io.github.containers.zstd-chunked.tarsplit-position"), "1:2:3");
    auto back = zstd_chunked::layout_of(a, "layer t");
    ASSERT_TRUE(back && back->tar_split);
    EXPECT_EQ(back->generation, zstd_chunked::Generation::current);
    for (const char* bad : {"1:2:3", "1:2:3:1:5", "a:2:3:1", "1::3:1", "-1:2:3:1", "1:2:3:2"}) {
        auto b = old;
        b["io.containers.zstd-chunked.manifest-position"] = bad;
        EXPECT_THROW(zstd_chunked::layout_of(b, "layer t"), Error) << bad;
    }
    auto b = old;
    b["io.containers.zstd-chunked.manifest-checksum"] = "md5:abc";
    EXPECT_THROW(zstd_chunked::layout_of(b, "layer t"), Error);
}

TEST(ZstdChunked, Crc64IsGosIso) {
    // CRC-64/GO-ISO's check value (Go's hash/crc64 with crc64.ISO, what tar-split records)
    EXPECT_EQ(zstd_chunked::crc64_iso(0, "123456789"), 0xb90956c775a41001ull);
    EXPECT_EQ(zstd_chunked::crc64_iso(zstd_chunked::crc64_iso(0, "1234"), "56789"),
              0xb90956c775a41001ull);
}

TEST(ZstdChunked, WriterReadBackChunkByChunk) {
    Built b = build(64 << 10);
    // a plain tar+zstd stream: decompressed, it is the tar whose sha256 is the diff_id
    std::string tar(b.layer.tar_size, '\0');
    std::size_t n = ZSTD_decompress(tar.data(), tar.size(), b.blob.data(), b.blob.size());
    ASSERT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
    EXPECT_EQ(n, tar.size());
    EXPECT_EQ(Sha256::hex_of(tar), b.layer.diff_id.hex());
    EXPECT_EQ(Sha256::hex_of(b.blob), b.layer.digest.hex());
    // the footer repeats the annotations
    zstd_chunked::Footer f;
    ASSERT_TRUE(zstd_chunked::parse_footer(b.blob, f));
    EXPECT_EQ(f.toc, b.layer.layout.toc);
    EXPECT_EQ(f.tar_split, b.layer.layout.tar_split);
    std::string json_text;
    Toc t = zstd_chunked::read_toc(reader(b.blob), b.blob.size(), b.layer.layout, "layer t",
                                   &json_text);
    const Node& big = at(t, "data/big.bin");
    EXPECT_EQ(big.chunks.size(), 5u); // 300000 bytes in 64 KiB chunks
    for (auto& c : big.chunks) EXPECT_EQ(c.codec, Codec::zstd);
    EXPECT_EQ(file_bytes(b.blob, big), pattern(300000));
    EXPECT_EQ(file_bytes(b.blob, at(t, "data/small.txt")), "hello lazy\n");
    EXPECT_EQ(at(t, "data/hard").nlink, 2u);
    EXPECT_EQ(at(t, "data/link").link, "small.txt");
    EXPECT_EQ(at(t, "data/x.txt").xattrs.at(0).second, "yes");
    EXPECT_EQ(at(t, "data/small.txt").uid, 1000u);
    EXPECT_TRUE(at(t, "data").whiteouts.count("gone"));
    // the tar-split: verified by the TOC's digest, consistent with it, and the exact tar again
    std::string ts = zstd_chunked::read_tar_split(
        reader(b.blob), b.blob.size(), *b.layer.layout.tar_split, t.tar_split_digest, "layer t");
    auto entries = tar_split::parse(ts, "layer t");
    tar_split::check(entries, t, "layer t");
    std::string again;
    tar_split::assemble(
        entries,
        [&](const std::string& name, std::uint64_t) { return file_bytes(b.blob, at(t, name)); },
        [&](std::string_view s) { again.append(s); }, "layer t");
    EXPECT_EQ(again, tar);
    // the same input, the same blob
    EXPECT_EQ(build(64 << 10).blob, b.blob);
}

TEST(ZstdChunked, LyingTocChunksAndTarSplitAreRefused) {
    Built b = build(64 << 10);
    auto layout = b.layer.layout;
    // a TOC whose bytes are not the manifest's
    auto lie = layout;
    lie.toc_checksum = "sha256:" + std::string(64, 'b');
    expect_refused([&] { zstd_chunked::read_toc(reader(b.blob), b.blob.size(), lie, "l"); },
                   "but the manifest says");
    auto past = layout;
    past.toc.offset = b.blob.size() - 4;
    expect_refused([&] { zstd_chunked::read_toc(reader(b.blob), b.blob.size(), past, "l"); },
                   "past the blob");
    std::string json_text;
    Toc t = zstd_chunked::read_toc(reader(b.blob), b.blob.size(), layout, "l", &json_text);
    // an altered chunk is never returned
    const Node& big = at(t, "data/big.bin");
    std::string altered = b.blob;
    altered[big.chunks[1].offset + 20] ^= 1;
    expect_refused([&] { file_bytes(altered, big); }, "");
    // a tar-split that is not the TOC's
    expect_refused(
        [&] {
            zstd_chunked::read_tar_split(reader(b.blob), b.blob.size(), *layout.tar_split,
                                         "sha256:" + std::string(64, 'c'), "l");
        },
        "tar-split has digest");
    // a tar-split naming a file the TOC has not, or with another size
    auto lines = [](std::vector<json> v) {
        std::string s;
        for (auto& j : v) s += j.dump() + "\n";
        return s;
    };
    auto file = [](const char* name, int size, int pos) {
        return json{{"type", 1},
                    {"name", name},
                    {"size", size},
                    {"payload", "AAAAAAAAAAA="},
                    {"position", pos}};
    };
    expect_refused(
        [&] { tar_split::check(tar_split::parse(lines({file("nope", 3, 0)}), "l"), t, "l"); },
        "not a regular file");
    expect_refused(
        [&] {
            tar_split::check(tar_split::parse(lines({file("data/small.txt", 3, 0)}), "l"), t, "l");
        },
        "has 3 bytes");
    expect_refused([&] { tar_split::parse(lines({file("a", 1, 1)}), "l"); }, "out of order");
    expect_refused([&] { tar_split::parse(lines({file("../a", 1, 0)}), "l"); }, "'..'");
    expect_refused(
        [&] {
            tar_split::parse(lines({json{{"type", 3}, {"position", 0}}}), "l");
        },
        "unknown type");
    expect_refused(
        [&] { tar_split::parse("{\"type\":2,\"payload\":\"***\",\"position\":0}", "l"); },
        "not base64");
    // numbers that are not whole numbers >= 0 (fuzz_tar_split: "type":8.9e29 reached a
    // float-to-int conversion out of range, undefined behaviour)
    for (const char* bad :
         {"{\"type\":8.9e29,\"position\":0}", "{\"type\":2,\"position\":-1}",
          "{\"type\":2,\"position\":0.5}", "{\"type\":2,\"position\":1e300}",
          "{\"type\":1,\"name\":\"a\",\"size\":1e30,\"payload\":\"AAAAAAAAAAA=\",\"position\":0}"})
        expect_refused([&] { tar_split::parse(bad, "l"); }, "not a whole number");
}

TEST(ZstdChunked, HostileTocsAreRefused) {
    auto doc = [](std::vector<json> entries) { return json{{"version", 1}, {"entries", entries}}; };
    auto reg = [](const char* name, std::uint64_t off, std::uint64_t end) {
        return json{{"name", name},     {"type", "reg"},
                    {"size", 10},       {"offset", off},
                    {"endOffset", end}, {"digest", "sha256:" + std::string(64, 'a')}};
    };
    auto parse = [](const json& j) {
        return [j] { Toc::parse(j.dump(), 1000, "layer t", TocFormat::zstd_chunked); };
    };
    expect_refused(parse(doc({reg("x", 10, 2000)})), "endOffset");
    expect_refused(parse(doc({reg("x", 10, 5)})), "endOffset");
    expect_refused(parse(doc({reg("x", 10, 20), reg("y", 15, 30)})), "endOffset outside");
    expect_refused(parse(doc({reg("../x", 10, 20)})), "'..'");
    expect_refused(parse(doc({reg("x", 2000, 2001)})), "past the table of contents");
    json chunked = reg("x", 10, 20);
    chunked["chunkSize"] = 5;
    chunked["chunkDigest"] = "sha256:" + std::string(64, 'a');
    json zeros = {{"name", "x"},
                  {"type", "chunk"},
                  {"offset", 15},
                  {"chunkOffset", 5},
                  {"chunkSize", 5},
                  {"chunkType", "ones"},
                  {"chunkDigest", "sha256:" + std::string(64, 'a')}};
    expect_refused(parse(doc({chunked, zeros})), "unknown chunkType");
    json no_offset = zeros; // a zstd chunk with no offset (fuzz_zstd_chunked_toc)
    no_offset.erase("chunkType");
    no_offset.erase("offset");
    expect_refused(parse(doc({chunked, no_offset})), "no offset for a chunk");
    try {
        parse(doc({reg("../x", 10, 20)}))();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("zstd:chunked table of contents"), std::string::npos);
    }
    // a "zeros" chunk is a hole: nothing fetched, its digest still checked
    zeros["chunkType"] = "zeros";
    zeros["chunkDigest"] = "sha256:" + Sha256::hex_of(std::string(5, '\0'));
    Toc t = Toc::parse(doc({chunked, zeros}).dump(), 1000, "layer t", TocFormat::zstd_chunked);
    const Chunk& hole = at(t, "x").chunks.at(1);
    EXPECT_EQ(hole.codec, Codec::zeros);
    EXPECT_EQ(hole.end, hole.offset);
    EXPECT_EQ(inflate_chunk("", hole, "layer t"), std::string(5, '\0'));
    EXPECT_EQ(at(t, "x").chunks.at(0).end, 15u); // up to the next chunk
}

TEST(ZstdChunked, TarSplitNameThatIsNotUtf8RoundTrips) {
    // fuzz/regressions/tar_split/crash-non-utf8-name-raw: a name_raw that is not UTF-8 made
    // line() throw nlohmann's type_error; it is written back as name_raw, as tar-split does
    auto in = tar_split::parse("{\"type\":1,\"name_raw\":\"/0MK\",\"position\":0}\n", "l");
    ASSERT_EQ(in.size(), 1u);
    EXPECT_EQ(in[0].name, "\xff\x43\x0a");
    std::string text = tar_split::line(in[0], 0);
    EXPECT_NE(text.find("name_raw"), std::string::npos);
    EXPECT_EQ(tar_split::parse(text, "l").at(0).name, in[0].name);
}

TEST(ZstdChunked, HugeTocIsRefusedBeforeReading) {
    // 10^7 entries are over a GB of JSON: refused by the declared sizes, nothing read
    zstd_chunked::Layout l;
    l.toc = {1000, 50u << 20, 1000000000};
    l.toc_checksum = "sha256:" + std::string(64, 'a');
    bool read = false;
    expect_refused(
        [&] {
            zstd_chunked::read_toc(
                [&](std::uint64_t, std::size_t) {
                    read = true;
                    return std::string();
                },
                1u << 30, l, "layer t");
        },
        "is over 64 MiB");
    EXPECT_FALSE(read);
}

TEST(ZstdChunked, FrameThatHoldsMoreIsRefused) {
    std::string big(1000, 'x');
    std::string z(ZSTD_compressBound(big.size()), '\0');
    z.resize(ZSTD_compress(z.data(), z.size(), big.data(), big.size(), 3));
    expect_refused([&] { zstd_chunked::decompress_exact(z, 10, "the frame"); }, "the frame");
    EXPECT_EQ(zstd_chunked::decompress_exact(z, 1000, "f"), big);
}

} // namespace lazy_zstd_chunked_test
