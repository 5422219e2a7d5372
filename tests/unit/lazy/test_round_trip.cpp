// Issue 57: what gantry's lazy writers write, its readers read, and what other writers write too.
// A layer whose tar begins with its root directory (`.`, `./`: umoci, `tar -C root -c .`,
// Alpine's minirootfs) and a layer pulled from eStargz (its landmark and stargz.index.json)
// through both writers and back; a zstd:chunked TOC and tar-split as containers/storage writes an
// eStargz source (the landmark kept as a file); two chunks at one blob offset with different
// digests refused when the TOC is read, and never served for one another from the chunk cache;
// the messages that said something else than what was wrong.
#include "layer_tar.hpp"
#include "lazy/remote_blob.hpp"
#include "lazy/tar_split.hpp"
#include "lazy/toc.hpp"
#include "lazy/writer.hpp"
#include "lazy/zstd_chunked_toc.hpp"
#include "lazy/zstd_chunked_writer.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <functional>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

namespace lazy_round_trip_test {

using namespace gantry;
using namespace gantry::lazy;
using nlohmann::json;

namespace {

using In = lazy_layer_tar::Entry;
using lazy_layer_tar::make_tar;

std::string read_all(int fd) {
    std::string s;
    char buf[65536];
    ::lseek(fd, 0, SEEK_SET);
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) s.append(buf, static_cast<size_t>(n));
    return s;
}

// TAR through WRITE(in, out): the blob
std::string written(const std::string& tar, const std::function<void(int, int)>& write) {
    int in = ::memfd_create("in", 0), out = ::memfd_create("out", 0);
    EXPECT_EQ(::write(in, tar.data(), tar.size()), static_cast<ssize_t>(tar.size()));
    ::lseek(in, 0, SEEK_SET);
    write(in, out);
    std::string blob = read_all(out);
    ::close(in);
    ::close(out);
    return blob;
}

Toc::ReadAt reader(const std::string& blob) {
    return [&blob](std::uint64_t off, std::size_t len) { return blob.substr(off, len); };
}

const Node* find(const Toc& t, const std::string& path) {
    std::uint32_t n = 0;
    for (std::size_t i = 0; i < path.size();) {
        std::size_t j = std::min(path.find('/', i), path.size());
        auto it = t.nodes[n].children.find(path.substr(i, j - i));
        if (it == t.nodes[n].children.end()) return nullptr;
        n = it->second;
        i = j + 1;
    }
    return &t.nodes[n];
}

std::string file_bytes(const std::string& blob, const Node& f) {
    std::string s;
    for (auto& c : f.chunks)
        s += inflate_chunk(std::string_view(blob).substr(c.offset, c.end - c.offset), c, "l");
    return s;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "<accepted>";
}

std::string digest(char c) {
    return "sha256:" + std::string(64, c);
}

// a layer with its root entry first, and an eStargz image's own files
std::vector<In> sample(const std::string& root) {
    return {{root, AE_IFDIR},
            {".no.prefetch.landmark", AE_IFREG, "\x0f"},
            {"stargz.index.json", AE_IFREG, "{}"},
            {"toc-link", 0, "./stargz.index.json"}, // a hard link to one: dropped with it
            {"etc", AE_IFDIR},
            {"etc/motd", AE_IFREG, "hello\n"},
            {"etc/empty", AE_IFREG}};
}

// TAR as gantry's zstd:chunked: the TOC and tar-split read back (the tar-split's tar is the
// written blob's), the file tree checked
void zstd_round_trip(const std::string& tar) {
    zstd_chunked::WrittenLayer w;
    std::string blob = written(
        tar, [&](int in, int out) { w = zstd_chunked::write_layer(in, out, "layer 1/1", 4); });
    Toc t = zstd_chunked::read_toc(reader(blob), blob.size(), w.layout, "layer 1/1");
    ASSERT_TRUE(find(t, "etc/motd"));
    EXPECT_EQ(file_bytes(blob, *find(t, "etc/motd")), "hello\n");
    EXPECT_FALSE(find(t, ".no.prefetch.landmark")); // dropped by the conversion
    EXPECT_FALSE(find(t, "stargz.index.json"));
    EXPECT_FALSE(find(t, "toc-link"));
    std::string ts = zstd_chunked::read_tar_split(reader(blob), blob.size(), *w.layout.tar_split,
                                                  t.tar_split_digest, "layer 1/1");
    auto entries = tar_split::parse(ts, "layer 1/1");
    tar_split::check(entries, t, "layer 1/1");
    std::string again;
    tar_split::assemble(
        entries, [&](const std::string& n, std::uint64_t) { return file_bytes(blob, *find(t, n)); },
        [&](std::string_view s) { again.append(s); }, "layer 1/1");
    std::string plain(w.tar_size, '\0');
    EXPECT_EQ(ZSTD_decompress(plain.data(), plain.size(), blob.data(), blob.size()), plain.size());
    EXPECT_EQ(again, plain);
    EXPECT_EQ(Sha256::hex_of(again), w.diff_id.hex());
}

} // namespace

TEST(LazyRoundTrip, ZstdChunkedLayerWithARootEntry) {
    zstd_round_trip(make_tar(sample("./")));
    zstd_round_trip(make_tar(sample(".")));
}

TEST(LazyRoundTrip, EstargzLayerWithARootEntryAndItsOwnFiles) {
    // an image pulled from eStargz converted again: its landmark and TOC are not carried (the
    // writer refused stargz.index.json before)
    EstargzLayer w;
    std::string blob = written(make_tar(sample("./")), [&](int in, int out) {
        w = write_estargz(in, out, "layer 1/1", 4);
    });
    std::string text;
    Toc t = Toc::read(reader(blob), blob.size(), w.toc_digest, "layer 1/1", &text);
    EXPECT_EQ(file_bytes(blob, *find(t, "etc/motd")), "hello\n");
    auto toc = json::parse(text);
    int landmarks = 0;
    for (auto& e : toc["entries"]) {
        EXPECT_NE(e["name"], "stargz.index.json");
        EXPECT_NE(e["name"], "toc-link");
        landmarks += e["name"] == ".no.prefetch.landmark";
    }
    EXPECT_EQ(landmarks, 1);
}

TEST(LazyRoundTrip, TarSplitRootEntries) {
    auto dir = [](const char* name, int pos) {
        return json{{"type", 1}, {"name", name}, {"payload", nullptr}, {"position", pos}}.dump() +
               "\n";
    };
    EXPECT_EQ(tar_split::parse(dir(".", 0) + dir("./", 1), "layer 1/3").size(), 2u);
    EXPECT_NE(error_of([&] { tar_split::parse(dir("", 0), "l"); }).find("unusable name"),
              std::string::npos);
    Toc empty = Toc::parse(R"({"version":1,"entries":[]})", 100, "l", TocFormat::zstd_chunked);
    EXPECT_EQ(error_of([&] {
                  tar_split::check(tar_split::parse(dir(".", 0), "l"), empty, "l");
                  tar_split::check(tar_split::parse(dir("./", 0), "l"), empty, "l");
              }),
              "<accepted>");
    // the root with content is not a file of the TOC
    json root_file = {
        {"type", 1}, {"name", "./"}, {"size", 3}, {"payload", "AAAAAAAAAAA="}, {"position", 0}};
    EXPECT_NE(error_of([&] {
                  tar_split::check(tar_split::parse(root_file.dump(), "l"), empty, "l");
              }).find("not a regular file"),
              std::string::npos);
    json long_name = {{"type", 1}, {"name", "a/" + std::string(256, 'x')}, {"position", 0}};
    EXPECT_NE(error_of([&] {
                  tar_split::parse(long_name.dump(), "l");
              }).find("a component longer than 255 bytes"),
              std::string::npos);
}

TEST(LazyRoundTrip, ZstdChunkedLandmarksAreFilesAsContainersStorageWritesThem) {
    // an eStargz image converted by containers/storage keeps .no.prefetch.landmark: its TOC and
    // tar-split name it as a file; it is one in the tree (a plain pull unpacks it too)
    const std::string one = "sha256:" + Sha256::hex_of("\x0f");
    json toc = {{"version", 1},
                {"entries",
                 {{{"name", ".no.prefetch.landmark"},
                   {"type", "reg"},
                   {"size", 1},
                   {"offset", 20},
                   {"endOffset", 40},
                   {"digest", one}},
                  {{"name", "stargz.index.json"}, {"type", "reg"}, {"size", 0}}}}};
    Toc t = Toc::parse(toc.dump(), 100, "l", TocFormat::zstd_chunked);
    ASSERT_TRUE(find(t, ".no.prefetch.landmark"));
    EXPECT_TRUE(find(t, "stargz.index.json"));
    json line = {{"type", 1},
                 {"name", ".no.prefetch.landmark"},
                 {"size", 1},
                 {"payload", "AAAAAAAAAAA="},
                 {"position", 0}};
    EXPECT_EQ(error_of([&] { tar_split::check(tar_split::parse(line.dump(), "l"), t, "l"); }),
              "<accepted>");
    // in an eStargz TOC they stay hidden
    Toc e = Toc::parse(toc.dump(), 100, "l", TocFormat::estargz);
    EXPECT_FALSE(find(e, ".no.prefetch.landmark"));
}

TEST(LazyRoundTrip, ChunksAtOneOffsetMustNameOneDigest) {
    auto reg = [](const char* name, std::uint64_t off, char d, std::uint64_t inner = 0) {
        json e = {{"name", name},
                  {"type", "reg"},
                  {"size", 4},
                  {"offset", off},
                  {"chunkDigest", digest(d)}};
        if (inner) e["innerOffset"] = inner;
        return e;
    };
    auto doc = [](std::vector<json> e) { return json{{"version", 1}, {"entries", e}}.dump(); };
    std::string refused = error_of([&] {
        Toc::parse(doc({reg("a", 10, 'a'), reg("b", 10, 'b')}), 100, "layer 2/3");
    });
    EXPECT_NE(refused.find("layer 2/3"), std::string::npos) << refused;
    EXPECT_NE(refused.find("two chunks at blob offset 10 with different digests: a (" +
                           digest('a') + ") and b (" + digest('b') + ")"),
              std::string::npos)
        << refused;
    // the same bytes named twice, and eStargz's small files packed in one member, are fine
    EXPECT_EQ(error_of([&] {
                  Toc::parse(doc({reg("a", 10, 'a'), reg("b", 10, 'a')}), 100, "l");
              }),
              "<accepted>");
    EXPECT_EQ(error_of([&] {
                  Toc::parse(doc({reg("a", 10, 'a'), reg("b", 10, 'b', 4)}), 100, "l");
              }),
              "<accepted>");
    EXPECT_NE(error_of([&] {
                  Toc::parse(doc({reg("a", 10, 'a', 4), reg("b", 10, 'b', 4)}), 100, "l");
              }).find("(inner offset 4) with different digests"),
              std::string::npos);
    // zstd:chunked, a file's second chunk at the first file's offset
    json big = {{"name", "big"},
                {"type", "reg"},
                {"size", 8},
                {"offset", 10},
                {"endOffset", 30},
                {"chunkSize", 4},
                {"chunkDigest", digest('c')}};
    json second = {{"name", "big"},    {"type", "chunk"}, {"offset", 10},
                   {"chunkOffset", 4}, {"chunkSize", 4},  {"chunkDigest", digest('d')}};
    EXPECT_NE(error_of([&] {
                  Toc::parse(doc({big, second}), 100, "l", TocFormat::zstd_chunked);
              }).find("with different digests: big"),
              std::string::npos);
}

TEST(LazyRoundTrip, CachedChunkIsServedOnlyForItsOwnDigest) {
    // two files of one size; a second chunk pointing at the first's bytes with its own digest
    // (what a TOC lying that way asks for) is never answered with the first's bytes
    EstargzLayer w;
    std::string blob =
        written(make_tar({{"a", AE_IFREG, "aaaa"}, {"b", AE_IFREG, "bbbb"}}),
                [&](int in, int out) { w = write_estargz(in, out, "layer 1/1", 4); });
    Toc t = Toc::read(reader(blob), blob.size(), w.toc_digest, "layer 1/1");
    int fd = ::memfd_create("copy", 0);
    ASSERT_EQ(::write(fd, blob.data(), blob.size()), static_cast<ssize_t>(blob.size()));
    RemoteBlob remote(nullptr, "r", w.digest, blob.size(), Fd(fd), "layer 1/1");
    const Chunk& a = find(t, "a")->chunks.at(0);
    Chunk lying = find(t, "b")->chunks.at(0);
    lying.offset = a.offset;
    lying.end = a.end;
    EXPECT_EQ(*remote.chunk(a), "aaaa");
    std::string served;
    std::string refused = error_of([&] { served = *remote.chunk(lying); });
    EXPECT_NE(served, "aaaa");
    EXPECT_NE(refused, "<accepted>");
    EXPECT_EQ(*remote.chunk(find(t, "b")->chunks.at(0)), "bbbb");
}

TEST(LazyRoundTrip, MessagesSayWhatIsWrong) {
    // a 256-byte component is not an empty one
    json toc = {{"version", 1}, {"entries", {{{"name", std::string(256, 'n')}, {"type", "dir"}}}}};
    EXPECT_NE(error_of([&] {
                  Toc::parse(toc.dump(), 100, "l");
              }).find("a component longer than 255 bytes"),
              std::string::npos);
    // a tar-split position inside the blob but not after a frame header, or empty
    std::string blob(1589, 'x');
    auto at = [&](zstd_chunked::Position p) {
        return error_of(
            [&] { zstd_chunked::read_tar_split(reader(blob), blob.size(), p, digest('a'), "l"); });
    };
    std::string early = at({4, 100, 100});
    EXPECT_EQ(early.find("past the blob"), std::string::npos) << early;
    EXPECT_NE(early.find("before the end of its skippable frame's 8-byte header"),
              std::string::npos)
        << early;
    std::string empty = at({100, 0, 100});
    EXPECT_EQ(empty.find("past the blob"), std::string::npos) << empty;
    EXPECT_NE(empty.find("is empty"), std::string::npos) << empty;
    EXPECT_NE(at({1500, 100, 100}).find("past the blob's 1589 bytes"), std::string::npos);
}

} // namespace lazy_round_trip_test
