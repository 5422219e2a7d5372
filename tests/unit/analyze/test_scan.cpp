// analyze::scan_layer end to end on a layer built in memory (libarchive's pax writer, zstd):
// every entry's fields against values computed here, the same results with decompression on a
// second thread (threads = 2) as on one (threads = 1) — ELF files larger than the read-ahead
// window, a smaller ELF after a bigger one (buffer reuse) — and errors from either side of the
// pipeline (the blob reader, the decompressor, the tar parser, the entry checks) reaching the
// caller unchanged.
#include "analyze/scan.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <cstring>
#include <gtest/gtest.h>
#include <optional>
#include <stdexcept>
#include <zstd.h>

namespace analyze_scan_test {

using namespace gantry;
using namespace gantry::analyze;

namespace {

std::string noise(std::size_t n, std::uint64_t seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        s[i] = static_cast<char>(seed >> 56);
    }
    return s;
}

void put(std::string& s, std::size_t at, std::uint64_t v, int bytes) {
    std::memcpy(s.data() + at, &v, static_cast<std::size_t>(bytes));
}

// A fat-binary entry (header + payload padded to 8) and a container, as compat/fatbin reads them.
std::string fatbin_entry(std::uint16_t kind, unsigned arch, std::string payload) {
    while (payload.size() % 8) payload.push_back('\0');
    std::string h(64, '\0');
    put(h, 0, kind, 2);
    put(h, 2, 0x0101, 2);
    put(h, 4, 64, 4);
    put(h, 8, payload.size(), 8);
    put(h, 0x1a, 9, 2);
    put(h, 0x1c, arch, 4);
    put(h, 0x28, 0x11, 8);
    return h + payload;
}
std::string fatbin_container(const std::string& body) {
    std::string h(16, '\0');
    put(h, 0, 0xBA55ED50, 4);
    put(h, 4, 1, 2);
    put(h, 6, 16, 2);
    put(h, 8, body.size(), 8);
    return h + body;
}

// A little-endian ELF64: header, .nv_fatbin, .debug_info (debug bytes of noise), a NOBITS
// .debug_line (not counted), .shstrtab, section table at the end.
std::string make_elf(const std::string& fatbin, std::size_t debug, std::uint64_t seed) {
    const std::string names =
        std::string("\0.nv_fatbin\0.debug_info\0.debug_line\0.shstrtab\0", 47);
    std::string f(64, '\0');
    std::memcpy(f.data(),
                "\x7f"
                "ELF\x02\x01\x01",
                7);
    put(f, 0x10, 3, 2);  // ET_DYN
    put(f, 0x12, 62, 2); // x86-64
    put(f, 0x14, 1, 4);
    std::size_t fat_off = f.size();
    f += fatbin;
    std::size_t dbg_off = f.size();
    f += noise(debug, seed);
    std::size_t str_off = f.size();
    f += names;
    while (f.size() % 8) f.push_back('\0');
    std::size_t shoff = f.size();
    std::string sh(5 * 64, '\0');
    auto section = [&](int i, std::uint32_t name, std::uint32_t type, std::size_t off,
                       std::size_t size) {
        put(sh, i * 64 + 0, name, 4);
        put(sh, i * 64 + 4, type, 4);
        put(sh, i * 64 + 24, off, 8);
        put(sh, i * 64 + 32, size, 8);
    };
    section(1, 1, 1, fat_off, fatbin.size()); // .nv_fatbin PROGBITS
    section(2, 12, 1, dbg_off, debug);        // .debug_info PROGBITS
    section(3, 24, 8, dbg_off, 1u << 20);     // .debug_line NOBITS
    section(4, 36, 3, str_off, names.size()); // .shstrtab STRTAB
    f += sh;
    put(f, 0x28, shoff, 8);
    put(f, 0x34, 64, 2); // e_ehsize
    put(f, 0x3a, 64, 2); // e_shentsize
    put(f, 0x3c, 5, 2);  // e_shnum
    put(f, 0x3e, 4, 2);  // e_shstrndx
    return f;
}

struct TarItem {
    std::string name;
    unsigned type; // AE_IFREG, AE_IFDIR, AE_IFLNK, 0 = hard link
    std::string data_or_target;
    unsigned mode = 0644;
};

std::string make_tar(const std::vector<TarItem>& items) {
    std::string out;
    archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_none(a);
    auto write_cb = [](archive*, void* p, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(p)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
    };
    if (archive_write_open(a, &out, nullptr, write_cb, nullptr) != ARCHIVE_OK)
        throw std::runtime_error("archive_write_open");
    for (const auto& it : items) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, it.name.c_str());
        archive_entry_set_perm(e, it.mode);
        archive_entry_set_mtime(e, 1, 0);
        if (it.type == 0) {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, it.data_or_target.c_str());
            archive_entry_set_size(e, 0);
        } else {
            archive_entry_set_filetype(e, it.type);
            if (it.type == AE_IFLNK) archive_entry_set_symlink(e, it.data_or_target.c_str());
            archive_entry_set_size(
                e, it.type == AE_IFREG ? static_cast<la_int64_t>(it.data_or_target.size()) : 0);
        }
        if (archive_write_header(a, e) != ARCHIVE_OK)
            throw std::runtime_error(archive_error_string(a));
        if (it.type == AE_IFREG && !it.data_or_target.empty())
            archive_write_data(a, it.data_or_target.data(), it.data_or_target.size());
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

// With a frame checksum, as the zstd tool writes by default: corruption is always detected.
std::string zstd(const std::string& in) {
    std::string out(ZSTD_compressBound(in.size()), '\0');
    ZSTD_CCtx* c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    std::size_t n = ZSTD_compress2(c, out.data(), out.size(), in.data(), in.size());
    ZSTD_freeCCtx(c);
    if (ZSTD_isError(n)) throw std::runtime_error("ZSTD_compress2");
    out.resize(n);
    return out;
}

std::string sha256_hex(const std::string& s) {
    Sha256 h;
    h.update(s);
    return h.hex_final();
}

std::uint64_t fast_hash(const std::string& s) {
    FastHash h;
    h.update(s.data(), s.size());
    return h.final();
}

// Serves a string in reads of at most `chunk` bytes; throws Error(io) once `fail_at` bytes
// were served.
class BlobReader final : public layer::Reader {
  public:
    explicit BlobReader(std::string data, std::size_t chunk = 100'000,
                        std::size_t fail_at = std::string::npos)
        : data_(std::move(data)), chunk_(chunk), fail_at_(fail_at) {}
    std::size_t read(void* buf, std::size_t n) override {
        if (pos_ >= fail_at_) throw Error(Errc::io, "the test disk failed", "replace it");
        n = std::min({n, chunk_, data_.size() - pos_});
        std::memcpy(buf, data_.data() + pos_, n);
        pos_ += n;
        return n;
    }

  private:
    std::string data_;
    std::size_t chunk_, fail_at_;
    std::size_t pos_ = 0;
};

LayerScan scan(const std::string& blob, unsigned threads, std::size_t fail_at = std::string::npos) {
    BlobReader rd(blob, 100'000, fail_at);
    ScanOptions so;
    so.what = "layer 1/1 (test)";
    so.threads = threads;
    return scan_layer(rd, so);
}

// The Error scan() throws (nullopt when it does not throw).
std::optional<Error> scan_error(const std::string& blob, unsigned threads,
                                std::size_t fail_at = std::string::npos) {
    try {
        scan(blob, threads, fail_at);
    } catch (const Error& e) {
        return e;
    }
    return std::nullopt;
}

void expect_same(const LayerScan& a, const LayerScan& b) {
    EXPECT_EQ(a.blob_hex, b.blob_hex);
    EXPECT_EQ(a.blob_size, b.blob_size);
    EXPECT_EQ(a.diff_hex, b.diff_hex);
    EXPECT_EQ(a.tar_size, b.tar_size);
    EXPECT_EQ(a.compression, b.compression);
    EXPECT_EQ(a.entry_bytes, b.entry_bytes);
    EXPECT_EQ(a.files, b.files);
    ASSERT_EQ(a.entries.size(), b.entries.size());
    for (std::size_t i = 0; i < a.entries.size(); ++i) {
        const Entry &x = a.entries[i], &y = b.entries[i];
        SCOPED_TRACE(x.path);
        EXPECT_EQ(x.path, y.path);
        EXPECT_EQ(x.kind, y.kind);
        EXPECT_EQ(x.size, y.size);
        EXPECT_EQ(x.mode, y.mode);
        EXPECT_EQ(x.link, y.link);
        EXPECT_EQ(x.hash, y.hash);
        EXPECT_EQ(x.debug, y.debug);
        EXPECT_EQ(x.elf, y.elf);
        EXPECT_EQ(x.device_code, y.device_code);
    }
}

struct Layer {
    std::string big_elf, small_elf, data, text, tar, blob;
};

const Layer& sample() {
    static const Layer layer = [] {
        Layer l;
        // sm_80: 64 + 24 (20 bytes padded), compute_90: 64 + 16 (13 padded)
        std::string fat = fatbin_container(fatbin_entry(2, 80, noise(20, 7)) +
                                           fatbin_entry(1, 90, ".version 9.0\n"));
        l.big_elf = make_elf(fat, 3'500'000, 1); // larger than the 2 MiB read-ahead window
        l.small_elf = make_elf("", 1000, 2);     // after the big one: the buffer is reused
        l.data = noise(5'000'000, 3);            // not ELF, larger than the window
        l.text = "hello\n";
        l.tar = make_tar({
            {"./usr/", AE_IFDIR, "", 0755},
            {"usr/lib/libbig.so", AE_IFREG, l.big_elf, 0755},
            {"usr/lib/libsmall.so", AE_IFREG, l.small_elf, 0755},
            {"usr/share/data.bin", AE_IFREG, l.data},
            {"usr/share/empty", AE_IFREG, ""},
            {"usr/lib/libbig.so.1", AE_IFLNK, "libbig.so", 0777},
            {"usr/lib/copy.so", 0, "./usr/lib/libbig.so", 0755},
            {"etc/.wh.removed", AE_IFREG, ""},
            {"etc/.wh..wh..opq", AE_IFREG, ""},
            {"usr/share/tail.txt", AE_IFREG, l.text},
        });
        l.blob = zstd(l.tar);
        return l;
    }();
    return layer;
}

} // namespace

TEST(AnalyzeScanLayer, EveryFieldAsExpectedOnOneAndTwoThreads) {
    const Layer& l = sample();
    for (unsigned threads : {1u, 2u}) {
        SCOPED_TRACE("threads=" + std::to_string(threads));
        LayerScan r = scan(l.blob, threads);
        EXPECT_EQ(r.compression, oci::Compression::zstd);
        EXPECT_EQ(r.blob_size, l.blob.size());
        EXPECT_EQ(r.blob_hex, sha256_hex(l.blob));
        EXPECT_EQ(r.tar_size, l.tar.size());
        EXPECT_EQ(r.diff_hex, sha256_hex(l.tar));
        EXPECT_EQ(r.files, 5u); // libbig, libsmall, data.bin, empty, tail.txt
        EXPECT_EQ(r.entry_bytes, l.big_elf.size() + l.small_elf.size() + l.data.size() + 6);
        ASSERT_EQ(r.entries.size(), 10u);
        const auto& e = r.entries;
        EXPECT_EQ(e[0].path, "usr");
        EXPECT_EQ(e[0].kind, Kind::dir);
        EXPECT_EQ(e[0].mode, 0755u);

        EXPECT_EQ(e[1].path, "usr/lib/libbig.so");
        EXPECT_EQ(e[1].kind, Kind::file);
        EXPECT_EQ(e[1].size, l.big_elf.size());
        EXPECT_EQ(e[1].mode, 0755u);
        EXPECT_TRUE(e[1].elf);
        EXPECT_EQ(e[1].hash, fast_hash(l.big_elf));
        EXPECT_EQ(e[1].debug, 3'500'000u);
        EXPECT_EQ(e[1].code_of("cuda"),
                  (std::map<std::string, std::uint64_t>{{"compute_90", 80}, {"sm_80", 88}}));

        EXPECT_EQ(e[2].path, "usr/lib/libsmall.so");
        EXPECT_TRUE(e[2].elf);
        EXPECT_EQ(e[2].hash, fast_hash(l.small_elf));
        EXPECT_EQ(e[2].debug, 1000u);
        EXPECT_TRUE(e[2].device_code.empty());

        EXPECT_EQ(e[3].path, "usr/share/data.bin");
        EXPECT_FALSE(e[3].elf);
        EXPECT_EQ(e[3].size, 5'000'000u);
        EXPECT_EQ(e[3].hash, fast_hash(l.data));
        EXPECT_EQ(e[3].debug, 0u);

        EXPECT_EQ(e[4].path, "usr/share/empty");
        EXPECT_EQ(e[4].kind, Kind::file);
        EXPECT_EQ(e[4].hash, 0u);

        EXPECT_EQ(e[5].path, "usr/lib/libbig.so.1");
        EXPECT_EQ(e[5].kind, Kind::symlink);
        EXPECT_EQ(e[5].link, "libbig.so");

        EXPECT_EQ(e[6].path, "usr/lib/copy.so");
        EXPECT_EQ(e[6].kind, Kind::hardlink);
        EXPECT_EQ(e[6].link, "usr/lib/libbig.so");

        EXPECT_EQ(e[7].path, "etc/removed");
        EXPECT_EQ(e[7].kind, Kind::whiteout);
        EXPECT_EQ(e[8].path, "etc");
        EXPECT_EQ(e[8].kind, Kind::opaque);
        EXPECT_EQ(e[9].path, "usr/share/tail.txt");
        EXPECT_EQ(e[9].size, 6u);
        EXPECT_EQ(e[9].hash, fast_hash(l.text));
        EXPECT_FALSE(e[9].elf);
    }
    expect_same(scan(l.blob, 1), scan(l.blob, 2));
}

TEST(AnalyzeScanLayer, PlainTarAndAutoThreadsGiveTheSameResults) {
    const Layer& l = sample();
    LayerScan plain = scan(l.tar, 0);
    EXPECT_EQ(plain.compression, oci::Compression::none);
    LayerScan z = scan(l.blob, 1);
    plain.compression = z.compression;
    plain.blob_hex = z.blob_hex;
    plain.blob_size = z.blob_size;
    expect_same(plain, z);
}

TEST(AnalyzeScanLayer, ReaderErrorReachesTheCaller) {
    const Layer& l = sample();
    for (std::size_t at : {std::size_t{0}, l.blob.size() / 3, l.blob.size() - 1}) {
        SCOPED_TRACE(at);
        auto one = scan_error(l.blob, 1, at), two = scan_error(l.blob, 2, at);
        ASSERT_TRUE(one && two);
        EXPECT_EQ(two->code(), Errc::io);
        EXPECT_EQ(two->message(), "the test disk failed");
        EXPECT_EQ(two->message(), one->message());
    }
}

TEST(AnalyzeScanLayer, CorruptOrTruncatedBlobGivesTheSameError) {
    const Layer& l = sample();
    std::string corrupt = l.blob;
    for (std::size_t i = corrupt.size() / 2; i < corrupt.size() / 2 + 64; ++i) corrupt[i] ^= 0x5a;
    const std::string bad[] = {
        corrupt,                                 // zstd reports the damage
        l.blob.substr(0, l.blob.size() / 2),     // zstd stream ends early
        l.tar.substr(0, l.tar.size() / 2),       // the tar ends inside data.bin
        zstd(l.tar.substr(0, l.tar.size() / 2)), // the same, compressed
    };
    for (const std::string& b : bad) {
        SCOPED_TRACE(&b - bad);
        auto one = scan_error(b, 1), two = scan_error(b, 2);
        ASSERT_TRUE(one && two);
        EXPECT_EQ(two->code(), Errc::invalid);
        EXPECT_NE(two->message().find("layer 1/1 (test)"), std::string::npos) << two->message();
        EXPECT_EQ(two->message(), one->message());
    }
}

// An empty blob fails while the tar reader opens (found by fuzz/fuzz_analyze_layer): the
// refusal names the layer, and the half-built reader is freed (the ASan suite's LeakSanitizer
// reported it once per refusal; fuzz/regressions/analyze_layer replays it under LSan). A blob
// holding just the end-of-archive blocks is the near miss: an empty layer, scanned fine.
TEST(AnalyzeScanLayer, EmptyBlobIsRefusedWithTheLayerNamed) {
    for (unsigned threads : {1u, 2u}) {
        auto e = scan_error("", threads);
        ASSERT_TRUE(e) << threads;
        EXPECT_EQ(e->code(), Errc::invalid);
        EXPECT_NE(e->message().find("layer 1/1 (test)"), std::string::npos) << e->message();
        EXPECT_FALSE(scan_error(std::string(1024, '\0'), threads)) << threads;
    }
}

// Whiteouts that name no entry (".wh." alone, ".wh..", ".wh...") were recorded as "dir/",
// "dir/." and "dir/.." (found by fuzz/fuzz_analyze_layer); extraction refuses them, and so does
// the scan now. A whiteout of a file whose name starts with dots is the near miss.
TEST(AnalyzeScanLayer, MalformedWhiteoutIsRefused) {
    for (const char* bad : {"dir/.wh.", ".wh.", "dir/.wh..", "a/b/.wh..."}) {
        std::string blob = make_tar({{"dir/f", AE_IFREG, "x"}, {bad, AE_IFREG, ""}});
        for (unsigned threads : {1u, 2u}) {
            auto err = scan_error(blob, threads);
            ASSERT_TRUE(err) << bad;
            EXPECT_EQ(err->code(), Errc::invalid);
            EXPECT_EQ(err->message(), std::string("layer 1/1 (test): entry \"") + bad +
                                          "\" is a malformed whiteout; refusing the layer");
        }
    }
    LayerScan ok = scan(make_tar({{"dir/.wh...hidden", AE_IFREG, ""}}), 1);
    ASSERT_EQ(ok.entries.size(), 1u);
    EXPECT_EQ(ok.entries[0].kind, Kind::whiteout);
    EXPECT_EQ(ok.entries[0].path, "dir/..hidden");
}

TEST(AnalyzeScanLayer, EntryErrorStopsTheReadAhead) {
    // The consumer throws while the producer still has megabytes to decompress: it must stop
    // (no hang, no leak) and the entry's Error reach the caller.
    const Layer& l = sample();
    std::string blob = zstd(make_tar({{"usr/lib/libbig.so", AE_IFREG, l.big_elf},
                                      {"usr/../../etc/evil", AE_IFREG, "x"},
                                      {"usr/share/data.bin", AE_IFREG, l.data},
                                      {"usr/share/more.bin", AE_IFREG, noise(8'000'000, 9)}}));
    for (unsigned threads : {1u, 2u}) {
        auto err = scan_error(blob, threads);
        ASSERT_TRUE(err);
        EXPECT_EQ(err->code(), Errc::invalid);
        EXPECT_NE(err->message().find("\"..\" component"), std::string::npos) << err->message();
    }
}

// Package metadata and licence texts are kept for the GPU vendor inventory, bounded: a licence
// text over its 1 MiB limit keeps its start (cut), and past the per-layer budget a file is not
// kept but counted; other files (a non-vendor package's copyright) are not kept.
TEST(AnalyzeScanLayer, KeptTextsAreBounded) {
    std::string big(1'200'000, 'x');
    std::string blob =
        make_tar({{"NGC-DL-CONTAINER-LICENSE", AE_IFREG, "NVIDIA DEEP LEARNING " + big},
                  {"var/lib/dpkg/status", AE_IFREG, "Package: libcuda1\n"},
                  {"usr/share/doc/bash/copyright", AE_IFREG, "no"},
                  {"usr/local/cuda/EULA.txt", AE_IFREG, "eula"}});
    for (unsigned threads : {1u, 2u}) {
        BlobReader rd(blob, 100'000, std::string::npos);
        ScanOptions so;
        so.what = "layer 1/1 (test)";
        so.threads = threads;
        so.max_texts = (1u << 20) + 20; // the licence's first MiB and the status fit, not the EULA
        LayerScan s = scan_layer(rd, so);
        ASSERT_EQ(s.texts.size(), 2u);
        EXPECT_EQ(s.entries[s.texts[0].entry].path, "NGC-DL-CONTAINER-LICENSE");
        EXPECT_TRUE(s.texts[0].cut);
        EXPECT_EQ(s.texts[0].text.size(), 1u << 20);
        EXPECT_TRUE(s.texts[0].text.starts_with("NVIDIA DEEP LEARNING xx"));
        EXPECT_EQ(s.texts[1].kind, gpu_components::TextKind::dpkg_status);
        EXPECT_EQ(s.texts[1].text, "Package: libcuda1\n");
        EXPECT_FALSE(s.texts[1].cut);
        EXPECT_EQ(s.texts_skipped, 1u); // the EULA: over the budget
    }
}

} // namespace analyze_scan_test
