// compat/fatbin against synthetic containers and hostile bytes: every truncation, lying sizes,
// corrupt cubins, broken ELF headers and random mutations end in recorded problems, never a
// crash or a read outside the input.
#include "gpu_vendors/amd/hip_report.hpp"
#include "gpu_vendors/nvidia/fatbin.hpp"
#include "gpu_vendors/nvidia/fatbin_report.hpp"
#include "util/error.hpp"

#include <cstdint>
#include <cstring>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace compat_fatbin_test {

using namespace gantry::gpu_vendors::nvidia;

namespace {

void put16(std::string& s, size_t at, std::uint16_t v) {
    std::memcpy(s.data() + at, &v, 2);
}
void put32(std::string& s, size_t at, std::uint32_t v) {
    std::memcpy(s.data() + at, &v, 4);
}
void put64(std::string& s, size_t at, std::uint64_t v) {
    std::memcpy(s.data() + at, &v, 8);
}

std::string entry(std::uint16_t kind, unsigned arch, std::uint64_t flags, std::string payload,
                  std::uint16_t major = 9, std::uint16_t minor = 0, std::uint32_t compressed = 0,
                  std::uint64_t uncompressed = 0) {
    while (payload.size() % 8) payload.push_back('\0');
    std::string h(64, '\0');
    put16(h, 0, kind);
    put16(h, 2, 0x0101);
    put32(h, 4, 64);
    put64(h, 8, payload.size());
    put32(h, 0x10, compressed);
    put16(h, 0x18, minor);
    put16(h, 0x1a, major);
    put32(h, 0x1c, arch);
    put64(h, 0x28, flags);
    put64(h, 0x38, uncompressed);
    return h + payload;
}

std::string container(const std::vector<std::string>& entries) {
    std::string body;
    for (auto& e : entries) body += e;
    std::string h(16, '\0');
    put32(h, 0, 0xBA55ED50);
    put16(h, 4, 1);
    put16(h, 6, 16);
    put64(h, 8, body.size());
    return h + body;
}

// A minimal cubin: ELF64 header, a .text section with SHF_EXECINSTR (or not), a cuinfo note.
std::string fake_cubin(unsigned sm, unsigned toolkit, bool code) {
    std::string note(12 + 12 + 8, '\0');
    put32(note, 0, 12);
    put32(note, 4, 8);
    put32(note, 8, 1000);
    std::memcpy(note.data() + 12, "NVIDIA Corp", 12);
    put16(note, 24, 2);
    put16(note, 26, static_cast<std::uint16_t>(sm));
    put32(note, 28, toolkit);
    std::string text(16, '\xaa');
    std::string c(64, '\0');
    std::memcpy(c.data(),
                "\x7f"
                "ELF\x02\x01\x01\x41\x08",
                9);
    put16(c, 0x12, 190);
    put32(c, 0x30, 0x06000004u | (sm << 8));
    size_t note_off = c.size();
    c += note;
    size_t text_off = c.size();
    c += text;
    size_t shoff = c.size();
    put64(c, 0x28, shoff);
    put16(c, 0x3a, 64);
    put16(c, 0x3c, 3);
    std::string sh(3 * 64, '\0');
    put32(sh, 64 + 4, 7); // SHT_NOTE
    put64(sh, 64 + 24, note_off);
    put64(sh, 64 + 32, note.size());
    put32(sh, 128 + 4, 1); // PROGBITS
    put64(sh, 128 + 8, code ? 0x6 : 0x2);
    put64(sh, 128 + 24, text_off);
    put64(sh, 128 + 32, text.size());
    return c + sh;
}

} // namespace

TEST(CompatFatbin, SyntheticContainers) {
    std::string blob = "garbage before " +
                       container({entry(2, 80, 0x11, fake_cubin(80, 130, true), 1, 8),
                                  entry(1, 90, 0x11, ".version 9.0\n")}) +
                       "between" +
                       container({entry(2, 86, 0x11, fake_cubin(86, 130, false), 1, 8)}) +
                       container({entry(2, 100, 0x1200011, fake_cubin(100, 131, true), 1, 8),
                                  entry(1, 100, 0x208011, "x"), entry(2, 90, 0x100011, "y"),
                                  entry(8, 80, 0x18011, "lto")}) +
                       "tail";
    auto fb = scan_fatbin_bytes(blob);
    EXPECT_FALSE(fb.elf);
    ASSERT_EQ(fb.containers.size(), 3u);
    EXPECT_TRUE(fb.problems.empty()) << fb.problems[0];
    ASSERT_EQ(fb.entries.size(), 7u);
    EXPECT_EQ(fb.entries[0].arch_name(), "sm_80");
    EXPECT_EQ(fb.entries[0].toolkit, 130u);
    EXPECT_EQ(fb.entries[0].cubin_sm, 80u);
    EXPECT_EQ(fb.entries[0].has_code, HasCode::yes);
    EXPECT_EQ(fb.entries[0].offset, 15u + 16u);
    EXPECT_EQ(fb.entries[1].arch_name(), "compute_90");
    EXPECT_EQ(fb.entries[1].code_major, 9);
    EXPECT_TRUE(fb.containers[1].stub);
    EXPECT_TRUE(fb.entries[2].stub);
    EXPECT_EQ(fb.stub_containers(), 1u);
    EXPECT_EQ(fb.entries[3].arch_name(), "sm_100f");
    EXPECT_EQ(fb.entries[3].toolkit, 131u);
    EXPECT_EQ(fb.entries[4].arch_name(), "compute_100f");
    EXPECT_EQ(fb.entries[5].arch_name(), "sm_90a");
    EXPECT_FALSE(fb.entries[5].cubin_error.empty()); // "y" is no ELF
    EXPECT_EQ(fb.entries[6].arch_name(), "lto_80");
    EXPECT_EQ(fb.kernel_entries().size(), 6u);
}

TEST(CompatFatbin, HostileBytesNeverCrash) {
    const std::string good =
        container({entry(2, 80, 0x11, fake_cubin(80, 130, true), 1, 8), entry(1, 90, 0x11, "ptx"),
                   entry(2, 75, 0x2011, "\x50hello", 1, 8, 6, 5),
                   entry(2, 75, 0x8011, "not zstd", 1, 8, 8, 1000)});
    auto base = scan_fatbin_bytes(good);
    ASSERT_EQ(base.entries.size(), 4u);
    EXPECT_FALSE(base.entries[2].cubin_error.empty()); // "hello" is no cubin
    EXPECT_FALSE(base.entries[3].cubin_error.empty()); // not a zstd frame

    // Every truncation.
    for (size_t n = 0; n <= good.size(); ++n) {
        auto fb = scan_fatbin_bytes(std::string_view(good).substr(0, n));
        EXPECT_LE(fb.entries.size(), 4u);
        for (auto& e : fb.entries) EXPECT_LE(e.offset + e.disk_size(), n);
    }

    // Lying sizes.
    auto lie = [&](size_t at, std::uint64_t v, int width) {
        std::string s = good;
        if (width == 2) put16(s, at, static_cast<std::uint16_t>(v));
        if (width == 4) put32(s, at, static_cast<std::uint32_t>(v));
        if (width == 8) put64(s, at, v);
        return scan_fatbin_bytes(s);
    };
    auto fb = lie(8, UINT64_MAX, 8); // fatSize
    EXPECT_EQ(fb.entries.size(), 4u);
    EXPECT_FALSE(fb.problems.empty());
    fb = lie(8, 8, 8); // fatSize smaller than one entry: nothing fits
    EXPECT_EQ(fb.entries.size(), 0u);
    fb = lie(6, 0xffff, 2); // container header size
    EXPECT_EQ(fb.entries.size(), 0u);
    fb = lie(16 + 4, 0xffffffff, 4); // first entry header size
    EXPECT_TRUE(fb.entries.empty());
    fb = lie(16 + 4, 8, 4);
    EXPECT_TRUE(fb.entries.empty());
    fb = lie(16 + 8, UINT64_MAX - 10, 8); // first entry size overflows
    EXPECT_TRUE(fb.entries.empty());
    size_t second = base.entries[1].offset;
    fb = lie(second + 8, 1u << 30, 8); // second entry runs past the container
    EXPECT_EQ(fb.entries.size(), 1u);
    EXPECT_FALSE(fb.problems.empty());
    size_t lz4 = base.entries[2].offset;
    fb = lie(lz4 + 0x38, UINT64_MAX, 8); // absurd uncompressed size
    ASSERT_EQ(fb.entries.size(), 4u);
    FatbinOptions all;
    all.cubin = FatbinOptions::Cubin::all;
    {
        std::string s = good;
        put64(s, lz4 + 0x38, 200u << 20); // 200 MiB from 6 bytes of LZ4: refused, not allocated
        fb = scan_fatbin_bytes(s, all);
        ASSERT_EQ(fb.entries.size(), 4u);
        EXPECT_FALSE(fb.entries[2].cubin_error.empty());
        put32(s, lz4 + 0x10, 0xffffff); // compressed size beyond the payload
        fb = scan_fatbin_bytes(s, all);
        EXPECT_FALSE(fb.entries[2].cubin_error.empty());
    }
    size_t zs = base.entries[3].offset;
    {
        std::string s = good;
        put64(s, zs + 0x38, 100u << 20); // large: streamed, fails on the bad frame
        fb = scan_fatbin_bytes(s, all);
        EXPECT_FALSE(fb.entries[3].cubin_error.empty());
    }

    // Corrupt cubin headers inside a valid entry.
    {
        std::string cub = fake_cubin(80, 130, true);
        for (size_t at : {0x28u, 0x3au, 0x3cu}) {
            std::string c = cub;
            put16(c, at, 0xffff);
            if (at == 0x28) put64(c, at, UINT64_MAX - 3);
            auto r = scan_fatbin_bytes(container({entry(2, 80, 0x11, c, 1, 8)}));
            ASSERT_EQ(r.entries.size(), 1u);
        }
        std::string c = cub;
        put32(c, 64, 0xffffff00); // note namesz huge
        auto r = scan_fatbin_bytes(container({entry(2, 80, 0x11, c, 1, 8)}));
        ASSERT_EQ(r.entries.size(), 1u);
        EXPECT_EQ(r.entries[0].toolkit, 0u);
    }

    // Random mutations of the good container, and random bytes full of magic numbers.
    std::mt19937_64 rng(42);
    for (int i = 0; i < 3000; ++i) {
        std::string s = good;
        int flips = 1 + static_cast<int>(rng() % 8);
        for (int k = 0; k < flips; ++k) s[rng() % s.size()] = static_cast<char>(rng());
        if (rng() % 4 == 0) s.resize(rng() % s.size());
        scan_fatbin_bytes(s, i % 2 ? all : FatbinOptions{});
    }
    for (int i = 0; i < 200; ++i) {
        std::string s(1 + rng() % 4096, '\0');
        for (auto& ch : s) ch = static_cast<char>(rng());
        for (int k = 0; k < 20 && s.size() >= 4; ++k) {
            size_t at = rng() % (s.size() - 3);
            put32(s, at, 0xBA55ED50);
            if (at + 6 <= s.size()) put16(s, at + 4, 1);
        }
        scan_fatbin_bytes(s, all);
    }
    // A magic number in the last bytes.
    scan_fatbin_bytes(std::string("\x50\xED\x55\xBA\x01\x00", 6));
}

TEST(CompatFatbin, HostileElf) {
    std::string body = container({entry(1, 80, 0x11, "ptx")});
    // An ELF whose section table lies: the scanner falls back to program headers, then the file.
    std::string elf(64, '\0');
    std::memcpy(elf.data(),
                "\x7f"
                "ELF\x02\x01\x01",
                7);
    put64(elf, 0x28, 1u << 30); // e_shoff past the end
    put16(elf, 0x3a, 64);
    put16(elf, 0x3c, 0xffff);
    auto fb = scan_fatbin_bytes(elf + body);
    EXPECT_TRUE(fb.elf);
    EXPECT_EQ(fb.entries.size(), 1u);
    // Section headers in range but every section out of range, and a huge shnum.
    std::string e2 = elf + body;
    size_t shoff = e2.size();
    std::string sh(2 * 64, '\0');
    put32(sh, 64 + 4, 1);
    put64(sh, 64 + 24, 1ull << 40);
    put64(sh, 64 + 32, 1u << 20);
    e2 += sh;
    put64(e2, 0x28, shoff);
    fb = scan_fatbin_bytes(e2);
    EXPECT_EQ(fb.entries.size(), 1u); // fallback to the whole file
    EXPECT_FALSE(fb.problems.empty());
    // A section that covers the container, extending past the end of the file.
    put64(e2, shoff + 64 + 24, 64);
    put64(e2, shoff + 64 + 32, UINT64_MAX);
    fb = scan_fatbin_bytes(e2);
    EXPECT_EQ(fb.entries.size(), 1u);
    EXPECT_EQ(fb.containers[0].region, "section[1]");
}

// What `doctor --fatbin` shows: per-arch totals in order of first appearance plus a sum, one
// table row per entry, and the JSON document with the same totals (no sum row).
TEST(CompatFatbin, ReportTotalsRowsAndJson) {
    std::string blob = container({entry(2, 90, 0x11, std::string(100, 'a')),
                                  entry(1, 80, 0x11, std::string(40, 'p'), 8, 5),
                                  entry(2, 90, 0x11, std::string(24, 'b'))});
    auto fb = scan_fatbin_bytes(blob);
    ASSERT_EQ(fb.entries.size(), 3u);
    auto totals = fatbin_totals(fb);
    ASSERT_EQ(totals.size(), 3u);
    EXPECT_EQ(totals[0].arch, fb.entries[0].arch_name());
    EXPECT_EQ(totals[0].entries, 2u);
    EXPECT_EQ(totals[1].entries, 1u);
    EXPECT_EQ(totals[2].arch, "total");
    EXPECT_EQ(totals[2].entries, 3u);
    EXPECT_EQ(totals[2].size, totals[0].size + totals[1].size);
    auto rows = fatbin_entry_rows(fb);
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows[0][0], "KIND");
    EXPECT_EQ(rows[2][5], "8.5"); // the PTX entry's ISA version
    EXPECT_EQ(fatbin_total_rows(fb).back()[0], "total");
    gantry::gpu_vendors::amd::HipFatbin none;
    auto j = nlohmann::json::object();
    fatbin_report_json(fb, j);
    gantry::gpu_vendors::amd::hip_report_json(none, j);
    EXPECT_EQ(j["entries"].size(), 3u);
    ASSERT_EQ(j["totals"].size(), 2u);
    EXPECT_EQ(j["totals"][0]["entries"], 2);
    EXPECT_EQ(j["hip"]["found"], false);
    EXPECT_EQ(gantry::gpu_vendors::amd::hip_code_objects(none), 0u);
    EXPECT_EQ(gantry::gpu_vendors::amd::hip_code_object_rows(none).size(), 1u); // the header alone
}

TEST(CompatFatbin, MissingFile) {
    EXPECT_THROW(scan_fatbin_file("/nonexistent/libx.so"), gantry::Error);
    EXPECT_THROW(scan_fatbin_file("/"), gantry::Error);
}

// Fuzzing found a container whose first entry is cut short (a truncated file) or declares a
// size of 2^64-1 scanned as "0 containers" with no problem: `doctor --fatbin` said nothing.
TEST(CompatFatbin, DamagedFirstEntryIsReportedNotSkipped) {
    const std::string good = container({entry(1, 90, 0x11, ".version 9.0\n")});
    ASSERT_TRUE(scan_fatbin_bytes(good).problems.empty()); // the near miss: intact
    for (size_t n : {size_t{16}, size_t{40}, size_t{16 + 64}, good.size() - 1}) {
        auto fb = scan_fatbin_bytes(std::string_view(good).substr(0, n));
        ASSERT_EQ(fb.containers.size(), 1u) << n;
        EXPECT_EQ(fb.entries.size(), 0u);
        ASSERT_EQ(fb.problems.size(), 1u) << n;
        EXPECT_NE(fb.problems[0].find("fatbin container at 0x0 in file: entry at 0x10: "),
                  std::string::npos)
            << fb.problems[0];
        EXPECT_NE(fb.problems[0].find("remain in file"), std::string::npos) << fb.problems[0];
    }
    std::string huge = good;
    put64(huge, 16 + 8, UINT64_MAX); // the entry's payload size
    auto fb = scan_fatbin_bytes(huge);
    ASSERT_EQ(fb.problems.size(), 1u);
    EXPECT_NE(fb.problems[0].find("entry of 18446744073709551615 bytes runs past the container"),
              std::string::npos)
        << fb.problems[0];
    EXPECT_TRUE(fb.entries.empty());
    // the same bytes behind a header size other than nvcc's 16 are not taken for a container
    std::string odd = good;
    put16(odd, 6, 24);
    put64(odd, 16 + 8, UINT64_MAX);
    EXPECT_TRUE(scan_fatbin_bytes(odd).problems.empty());
}

} // namespace compat_fatbin_test
