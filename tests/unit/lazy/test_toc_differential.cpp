// lazy/toc_parser (the streaming reader of a table of contents) against the DOM reader it
// replaced (toc_dom_reference.cpp): over fixtures of every entry kind in both formats, thousands
// of hostile variants of them (each field of each entry removed or given another value of every
// JSON type, entries removed, repeated, reordered; keys given twice; deep nesting; huge numbers;
// bytes that are not UTF-8; truncations and byte changes) and the fuzz seeds of fuzz_estargz_toc
// and fuzz_zstd_chunked_toc, both must accept the same TOCs with the same tree and tarSplitDigest,
// and refuse the others with Error(invalid) and the same message. Where the old message quoted
// nlohmann's exception text or dumped a whole array or object, only the part before it must
// match (toc_parser.hpp). GANTRY_TOC_DIFF_DIRS (directories, ':'-separated) adds inputs, e.g. a
// fuzz run's grown corpus: `GANTRY_TOC_DIFF_DIRS=build-san/fuzz-corpus/estargz_toc ...`.
#include "lazy/toc.hpp"
#include "lazy/zstd_chunked_toc.hpp"
#include "toc_differential.hpp"
#include "util/error.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <random>
#include <sstream>

namespace toc_differential_test {

using namespace gantry;
using namespace toc_differential;
using lazy::TocFormat;

namespace {

#ifdef GANTRY_SANITIZE
// Every 18th field and text variant and every third structure variant: the whole set took ~80 of
// the sanitized unit suite's ~190 CPU-s at every sixth. The offset turns daily (each day's CI
// compares another part; 18 days cover every variant) and GANTRY_TOC_DIFF_OFFSET=K repeats one.
constexpr std::size_t kSampled = 18, kStructureSampled = 3;
constexpr std::size_t kBigEntries = 1500; // the big fixture: 19 of the suite's ~75 s at 5,000
#else
constexpr std::size_t kSampled = 1, kStructureSampled = 1;
constexpr std::size_t kBigEntries = 5000;
#endif

// C sampling every EVERY-th TOC, from the offset of the day or GANTRY_TOC_DIFF_OFFSET (printed).
void sample(Comparison& c, std::size_t every) {
    c.every = every;
    const char* forced = std::getenv("GANTRY_TOC_DIFF_OFFSET");
    std::size_t day = static_cast<std::size_t>(std::time(nullptr) / 86400);
    c.offset = (forced ? std::strtoull(forced, nullptr, 10) : day) % every;
    if (every > 1)
        std::printf("comparing every %zu-th variant from the %zu-th (GANTRY_TOC_DIFF_OFFSET=%zu "
                    "repeats this sample)\n",
                    every, c.offset, c.offset);
}

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// What the fuzz harnesses make of INPUT: its JSON and the TOC's offset, or nothing.
void compare_fuzz_input(Comparison& c, std::string_view in, TocFormat format,
                        const std::string& label) {
    if (!in.empty() && in[0] == '{') {
        c.compare(in, 1u << 30, format, label);
        return;
    }
    if (format == TocFormat::estargz) {
        lazy::Footer f;
        if (!lazy::parse_footer(in, f) || f.toc_offset >= in.size() - f.size) return;
        std::string json;
        try {
            json = lazy::Toc::unpack_toc(in.substr(f.toc_offset, in.size() - f.size - f.toc_offset),
                                         "layer fuzz");
        } catch (const Error&) {
            return;
        }
        c.compare(json, f.toc_offset, format, label);
        return;
    }
    lazy::zstd_chunked::Footer f;
    if (!lazy::zstd_chunked::parse_footer(in, f)) return;
    if (f.toc.offset < 8 || f.toc.offset > in.size() ||
        f.toc.compressed > in.size() - f.toc.offset || f.toc.uncompressed > lazy::kMaxTocBytes)
        return;
    std::string json;
    try {
        json = lazy::zstd_chunked::decompress_exact(in.substr(f.toc.offset, f.toc.compressed),
                                                    f.toc.uncompressed, "layer fuzz");
    } catch (const Error&) {
        return;
    }
    c.compare(json, f.toc.offset - 8, format, label);
}

std::size_t compare_dir(Comparison& c, const std::filesystem::path& dir, TocFormat format) {
    std::size_t n = 0;
    if (!std::filesystem::is_directory(dir)) return 0;
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
        if (!f.is_regular_file()) continue;
        std::string in = read_file(f.path());
        compare_fuzz_input(c, in, format, f.path().string());
        // the JSON in the other format too: the same reader, other rules
        if (!in.empty() && in[0] == '{')
            c.compare(in, 1u << 30,
                      format == TocFormat::estargz ? TocFormat::zstd_chunked : TocFormat::estargz,
                      f.path().string() + " (other format)");
        ++n;
    }
    return n;
}

const std::filesystem::path kFuzz = std::filesystem::path(GANTRY_TESTS_DIR) / ".." / "fuzz";

} // namespace

TEST(TocDifferential, FixturesAreAcceptedAlike) {
    for (auto format : {TocFormat::estargz, TocFormat::zstd_chunked}) {
        Comparison c;
        const std::string small = fixture(format).dump(),
                          big = big_fixture(format, kBigEntries).dump();
        c.compare(small, kFixtureTocOffset, format, "fixture");
        c.compare(big, kBigTocOffset, format, "big fixture");
        EXPECT_EQ(c.accepted, 2u) << "the fixtures must be valid TOCs";
        lazy::Toc t = lazy::Toc::parse(small, kFixtureTocOffset, "layer t", format);
        EXPECT_GT(t.nodes.size(), 15u);
        EXPECT_GT(lazy::Toc::parse(big, kBigTocOffset, "layer t", format).nodes.size(),
                  kBigEntries - kBigEntries / 5);
    }
}

TEST(TocDifferential, FieldVariantsAgree) {
    for (auto format : {TocFormat::estargz, TocFormat::zstd_chunked}) {
        Comparison c;
        sample(c, kSampled);
        field_variants(c, format);
        c.print("field variants");
        // the variants reach both sides: many refused, many still accepted
        EXPECT_GT(c.accepted, 300u / kSampled);
        EXPECT_GT(c.refused, 1000u / kSampled);
    }
}

TEST(TocDifferential, StructureVariantsAgree) {
    for (auto format : {TocFormat::estargz, TocFormat::zstd_chunked}) {
        Comparison c;
        sample(c, kStructureSampled);
        structure_variants(c, format);
        c.print("structure variants");
        EXPECT_GT(c.accepted, 20u / kStructureSampled);
        EXPECT_GT(c.refused, 20u / kStructureSampled);
    }
}

TEST(TocDifferential, TextVariantsAgree) {
    for (auto format : {TocFormat::estargz, TocFormat::zstd_chunked}) {
        Comparison c;
        sample(c, kSampled);
        text_variants(c, format);
        c.print("text variants");
        EXPECT_GT(c.accepted, 50u / kSampled);
        EXPECT_GT(c.refused, 500u / kSampled);
    }
}

TEST(TocDifferential, FuzzSeedsAgree) {
    Comparison c;
    std::size_t files = 0;
    files += compare_dir(c, kFuzz / "corpus" / "estargz_toc", TocFormat::estargz);
    files += compare_dir(c, kFuzz / "regressions" / "estargz_toc", TocFormat::estargz);
    files += compare_dir(c, kFuzz / "corpus" / "zstd_chunked_toc", TocFormat::zstd_chunked);
    files += compare_dir(c, kFuzz / "regressions" / "zstd_chunked_toc", TocFormat::zstd_chunked);
    EXPECT_GT(files, 1000u) << "the fuzz seeds are not where they were: " << kFuzz;
    c.print("fuzz seeds (" + std::to_string(files) + " files)");
    EXPECT_GT(c.accepted, 10u);
    EXPECT_GT(c.refused, 100u);
    if (const char* extra = std::getenv("GANTRY_TOC_DIFF_DIRS")) {
        std::string dirs = extra;
        for (std::size_t i = 0; i <= dirs.size();) {
            std::size_t j = std::min(dirs.find(':', i), dirs.size());
            std::filesystem::path d = dirs.substr(i, j - i);
            auto format = d.string().find("zstd") != std::string::npos ? TocFormat::zstd_chunked
                                                                       : TocFormat::estargz;
            std::size_t n = compare_dir(c, d, format);
            std::printf("%s: %zu inputs\n", d.c_str(), n);
            i = j + 1;
        }
        std::printf("compared %zu inputs: %zu accepted, %zu refused alike\n",
                    c.accepted + c.refused, c.accepted, c.refused);
    }
}

} // namespace toc_differential_test
