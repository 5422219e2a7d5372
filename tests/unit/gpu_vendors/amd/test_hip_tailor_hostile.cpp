// tailor/hip against hostile files: each is refused with its bytes unchanged and a reason, and
// each has a near miss, the closest valid file, which is rewritten.
#include "hip_tailor_helpers.hpp"

namespace tailor_hip_tailor_hostile_test {

using namespace hip_tailor_test;

namespace {

// Offset of entry i's header in a bundle's table.
std::size_t entry_pos(const std::string& b, std::size_t i) {
    std::size_t pos = 32;
    for (std::size_t k = 0; k < i; ++k) {
        std::uint64_t len = 0;
        std::memcpy(&len, b.data() + pos + 16, 8);
        pos += 24 + len;
    }
    return pos;
}

std::uint64_t get64(const std::string& s, std::size_t at) {
    std::uint64_t v = 0;
    std::memcpy(&v, s.data() + at, 8);
    return v;
}

// Tailors elf to gfx90a: refused (bytes unchanged, the reason containing `why`) or changed.
void expect_refused(std::string elf, const std::string& why) {
    std::string before = elf;
    FileReport r = tailor_hip(elf, keep_amd({"gfx90a"}), "lib.so");
    EXPECT_EQ(r.outcome, FileReport::Outcome::refused) << why;
    EXPECT_EQ(elf, before);
    EXPECT_NE(r.refused.find(why), std::string::npos) << r.refused;
    EXPECT_EQ(r.path, "lib.so");
}
void expect_changed(std::string elf) {
    FileReport r = tailor_hip(elf, keep_amd({"gfx90a"}), "lib.so");
    EXPECT_EQ(r.outcome, FileReport::Outcome::changed) << r.refused;
}

} // namespace

TEST(TailorHipHostile, OverlappingEntries) {
    std::string b = five_entry_bundle();
    std::size_t e2 = entry_pos(b, 2);
    std::uint64_t first = get64(b, entry_pos(b, 1)), size = get64(b, entry_pos(b, 1) + 8);
    std::string overlap = b;
    put64(overlap, e2, first + size - 1); // starts on the last byte of the one before
    expect_refused(host_elf(overlap), "overlap");
    std::string adjacent = b; // near miss: starts right after it
    put64(adjacent, e2, first + size);
    expect_changed(host_elf(adjacent));
}

TEST(TailorHipHostile, EntryPastTheSection) {
    std::string b = five_entry_bundle();
    std::size_t last = entry_pos(b, 4);
    std::string past = b;
    put64(past, last + 8, get64(b, last + 8) + 1); // one byte longer than the section holds
    expect_refused(host_elf(past), "runs past the");
    std::string wrap = b;
    put64(wrap, last + 8, ~std::uint64_t{0}); // offset + size wraps around
    expect_refused(host_elf(wrap), "runs past the");
    expect_changed(host_elf(b)); // near miss: ends exactly at the section's end
}

TEST(TailorHipHostile, HugeCount) {
    std::string b = five_entry_bundle();
    put64(b, 24, std::uint64_t{1} << 40);
    expect_refused(host_elf(b), "entries, more than its");
}

TEST(TailorHipHostile, TableRunningIntoTheCodeObjects) {
    std::string b = five_entry_bundle();
    std::size_t table_end = entry_pos(b, 5);
    std::string into = b; // the first code object starts inside the entry table
    put64(into, entry_pos(b, 1), table_end - 8);
    expect_refused(host_elf(into), "inside the entry table");
    std::string at_end = b; // near miss: right at its end
    put64(at_end, entry_pos(b, 1), table_end);
    expect_changed(host_elf(at_end));
}

TEST(TailorHipHostile, IdsThatAreNotTargetText) {
    std::string b = five_entry_bundle();
    std::string control = b;
    control[entry_pos(b, 3) + 24 + 5] = '\n';
    expect_refused(host_elf(control), "printable ASCII");
    std::string high = b;
    high[entry_pos(b, 3) + 24 + 5] = '\xc3';
    expect_refused(host_elf(high), "printable ASCII");
    std::string twice = bundle({{"host-x86_64-unknown-linux", ""},
                                {kPrefix + "gfx90a", code_object(0x53f, 64)},
                                {kPrefix + "gfx90a", code_object(0x53f, 64)},
                                {kPrefix + "gfx1030", code_object(0x36, 64)}});
    expect_refused(host_elf(twice), "appears twice");
    std::string bad_target = bundle({{"host-x86_64-unknown-linux", ""},
                                     {kPrefix + "gfx90a:xnack", code_object(0x53f, 64)},
                                     {kPrefix + "gfx1030", code_object(0x36, 64)}});
    expect_refused(host_elf(bad_target), "names no valid AMD GPU target ID");
}

TEST(TailorHipHostile, SectionOverlappingOtherParts) {
    std::string b = five_entry_bundle();
    // .hip_fatbin declared long enough to cover .shstrtab and the section headers after it.
    std::string elf = host_elf(b);
    std::uint64_t to_end = elf.size() - 0x1000;
    expect_refused(host_elf(b, to_end), "overlaps the ELF headers or another section");
}

TEST(TailorHipHostile, CompressedHashMismatch) {
    if (!have_python() || !have_zstd())
        GTEST_SKIP() << "needs /usr/bin/python3 (hashlib, zlib) and python3-zstandard or zstd";
    for (unsigned method : {0u, 1u}) {
        std::string c = tool_pack(3, method, five_entry_bundle());
        expect_changed(host_elf(c)); // near miss: as packed
        std::string wrong = c;
        wrong[24] ^= 1; // the hash field (v3: bytes 24-31)
        expect_refused(host_elf(wrong), "hash of the uncompressed bundle does not match");
    }
}

TEST(TailorHipHostile, CompressedHugeOrLyingSizes) {
    if (!have_python() || !have_zstd())
        GTEST_SKIP() << "needs /usr/bin/python3 (hashlib, zlib) and python3-zstandard or zstd";
    std::string c = tool_pack(3, 1, five_entry_bundle());
    std::string huge = c;
    put64(huge, 16, std::uint64_t{1} << 40); // uncompressed size
    expect_refused(host_elf(huge), "uncompressed bytes, over the limit");
    std::string total = c;
    put64(total, 8, get64(c, 8) - 1); // total size one short of the stream
    expect_refused(
        host_elf(total),
        "compressed bundle (CCOB) at offset 0x0: the zstd frame is corrupt or truncated");
    std::string z = tool_pack(2, 0, five_entry_bundle());
    std::string shorter = z;
    put32(shorter, 12, static_cast<std::uint32_t>(five_entry_bundle().size() - 1));
    expect_refused(host_elf(shorter), "inflates to more than the declared");
    expect_changed(host_elf(z));
}

TEST(TailorHipHostile, TruncatedAndMutatedNeverThrow) {
    std::string elf = host_elf(five_entry_bundle());
    std::uint64_t seed = 12345;
    for (int i = 0; i < 400; ++i) {
        std::string m = elf;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        std::size_t at = 0x1000 + (seed >> 33) % 0x400; // the table and the first code object
        m[at] = static_cast<char>(seed >> 20);
        if (i % 50 == 0) m.resize(0x1000 + (seed >> 40) % 0x5000);
        std::string before = m;
        FileReport r;
        EXPECT_NO_THROW(r = tailor_hip(m, keep_amd({"gfx90a:xnack-"}), "m"));
        EXPECT_EQ(m.size(), before.size());
        if (r.outcome != FileReport::Outcome::changed) {
            EXPECT_EQ(m, before);
        } else {
            EXPECT_NO_THROW(read(m));
        }
    }
}

} // namespace tailor_hip_tailor_hostile_test
