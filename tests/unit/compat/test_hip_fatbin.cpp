// compat/hip_fatbin against bundles built byte by byte (the layout of reference rocm.md §5's
// observed dump), compressed bundles made with zlib and zstd, the HIP runtime's matching table,
// every damaged input (lying counts, offsets, ID lengths, sizes, zip bombs) ending in an Error
// that names the file, and, where Debian's clang can build one, a real HIP object.
#include "compat/hip_fatbin.hpp"
#include "util/error.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <random>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>
#include <zlib.h>
#include <zstd.h>

using namespace gantry::compat;
using gantry::Errc;
using gantry::Error;

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
void append64(std::string& s, std::uint64_t v) {
    s.append(reinterpret_cast<const char*>(&v), 8);
}

// An AMD GPU code object: just the ELF header (EM_AMDGPU, EI_OSABI 64) padded to size bytes.
std::string code_object(std::uint32_t e_flags, std::size_t size, std::uint8_t abi_version = 2) {
    std::string s(size, '\0');
    std::memcpy(s.data(),
                "\x7f"
                "ELF",
                4);
    s[4] = 2; // ELFCLASS64
    s[5] = 1; // little-endian
    s[6] = 1;
    s[7] = 64; // ELFOSABI_AMDGPU_HSA
    s[8] = static_cast<char>(abi_version);
    put16(s, 0x10, 3);   // ET_DYN
    put16(s, 0x12, 224); // EM_AMDGPU
    put32(s, 0x30, e_flags);
    return s;
}

struct Part {
    std::string id;
    std::string bytes; // empty for the host entry
};

// A clang offload bundle as the bundler writes it: header, IDs, then each code object at the
// next 4096-byte boundary; the empty host entry points at the first code object's offset.
std::string bundle(const std::vector<Part>& parts, std::uint64_t align = 4096) {
    std::string s = "__CLANG_OFFLOAD_BUNDLE__";
    append64(s, parts.size());
    std::vector<std::uint64_t> offsets;
    std::uint64_t at = align;
    for (const auto& p : parts) {
        offsets.push_back(at);
        if (!p.bytes.empty()) at = (at + p.bytes.size() + align - 1) / align * align;
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
        append64(s, offsets[i]);
        append64(s, parts[i].bytes.size());
        append64(s, parts[i].id.size());
        s += parts[i].id;
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (parts[i].bytes.empty()) continue;
        s.resize(offsets[i], '\0');
        s += parts[i].bytes;
    }
    return s;
}

const std::string kPrefix = "hipv4-amdgcn-amd-amdhsa--";

// rocm.md §5's executable: host, gfx1030, gfx90a:xnack-, gfx940.
std::string observed_bundle() {
    return bundle({{"host-x86_64-unknown-linux", ""},
                   {kPrefix + "gfx1030", code_object(0x36, 0xc30)},
                   {kPrefix + "gfx90a:xnack-", code_object(0x63f, 0xf70)},
                   {kPrefix + "gfx940", code_object(0x540, 0xf70)}});
}

// rocm.md §5's object file: xnack+ too.
std::string five_entry_bundle() {
    return bundle({{"host-x86_64-unknown-linux", ""},
                   {kPrefix + "gfx90a:xnack+", code_object(0x73f, 0xf70)},
                   {kPrefix + "gfx90a:xnack-", code_object(0x63f, 0xf70)},
                   {kPrefix + "gfx940", code_object(0x540, 0xf70)},
                   {kPrefix + "gfx1030", code_object(0x36, 0xc30)}});
}

// A host ELF64 whose only sections are .hip_fatbin (at a 4096 boundary) and .shstrtab.
std::string host_elf(const std::string& section, std::uint64_t declared_size = 0) {
    const std::string strtab = std::string("\0.hip_fatbin\0.shstrtab\0", 23);
    std::string f(0x1000, '\0');
    std::memcpy(f.data(),
                "\x7f"
                "ELF",
                4);
    f[4] = 2;
    f[5] = 1;
    f[6] = 1;
    put16(f, 0x10, 1);  // ET_REL
    put16(f, 0x12, 62); // EM_X86_64
    f += section;
    std::uint64_t strtab_off = f.size();
    f += strtab;
    f.resize((f.size() + 7) / 8 * 8, '\0');
    std::uint64_t shoff = f.size();
    f.resize(shoff + 3 * 64, '\0');
    put64(f, 0x28, shoff);
    put16(f, 0x34, 64);
    put16(f, 0x3a, 64);
    put16(f, 0x3c, 3);
    put16(f, 0x3e, 2);
    std::uint64_t h = shoff + 64; // [1] .hip_fatbin
    put32(f, h, 1);
    put32(f, h + 4, 1); // PROGBITS
    put64(f, h + 8, 2); // SHF_ALLOC
    put64(f, h + 24, 0x1000);
    put64(f, h + 32, declared_size ? declared_size : section.size());
    put64(f, h + 48, 4096);
    h += 64; // [2] .shstrtab
    put32(f, h, 13);
    put32(f, h + 4, 3); // STRTAB
    put64(f, h + 24, strtab_off);
    put64(f, h + 32, strtab.size());
    return f;
}

std::string zlib_compress(const std::string& in) {
    uLongf n = compressBound(in.size());
    std::string out(n, '\0');
    EXPECT_EQ(compress2(reinterpret_cast<Bytef*>(out.data()), &n,
                        reinterpret_cast<const Bytef*>(in.data()), in.size(), 6),
              Z_OK);
    out.resize(n);
    return out;
}

std::string zstd_compress(const std::string& in) {
    std::string out(ZSTD_compressBound(in.size()), '\0');
    std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
    EXPECT_FALSE(ZSTD_isError(n));
    out.resize(n);
    return out;
}

// A CCOB: v1 (u32 uncompressed), v2 (u32 total, u32 uncompressed), v3 (u64 total, u64
// uncompressed), then a u64 hash (not checked by the reader) and the compressed bundle.
std::string ccob(unsigned version, unsigned method, const std::string& inner,
                 std::uint64_t declared_uncompressed = 0, std::uint64_t declared_total = 0) {
    std::string payload = method == 0 ? zlib_compress(inner) : zstd_compress(inner);
    std::uint64_t uncompressed = declared_uncompressed ? declared_uncompressed : inner.size();
    std::size_t header = version == 1 ? 20 : version == 2 ? 24 : 32;
    std::string s(header, '\0');
    std::memcpy(s.data(), "CCOB", 4);
    put16(s, 4, static_cast<std::uint16_t>(version));
    put16(s, 6, static_cast<std::uint16_t>(method));
    std::uint64_t total = declared_total ? declared_total : header + payload.size();
    if (version == 1) {
        put32(s, 8, static_cast<std::uint32_t>(uncompressed));
    } else if (version == 2) {
        put32(s, 8, static_cast<std::uint32_t>(total));
        put32(s, 12, static_cast<std::uint32_t>(uncompressed));
    } else {
        put64(s, 8, total);
        put64(s, 16, uncompressed);
    }
    put64(s, header - 8, 0x0123456789abcdefULL);
    return s + payload;
}

HipFatbin read(const std::string& bytes, const HipFatbinOptions& opts = {}) {
    return read_hip_fatbin_bytes(bytes, "k_exe", opts);
}

// The Error message for damaged bytes (fails the test when none is thrown).
std::string error_of(const std::string& bytes, const HipFatbinOptions& opts = {}) {
    try {
        read(bytes, opts);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_TRUE(e.message().starts_with("k_exe: ")) << e.message();
        return e.message();
    }
    ADD_FAILURE() << "no error";
    return {};
}

std::string temp_dir() {
    std::string t = ::testing::TempDir() + "hip_fatbin_XXXXXX";
    EXPECT_NE(::mkdtemp(t.data()), nullptr);
    return t;
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

} // namespace

TEST(HipFatbin, ObservedBundleLayoutMatchesRocmDump) {
    std::string b = observed_bundle();
    // The first 0x60 bytes of rocm.md's xxd dump.
    std::string head = "__CLANG_OFFLOAD_BUNDLE__";
    append64(head, 4);
    append64(head, 0x1000);
    append64(head, 0);
    append64(head, 25);
    head += "host-x86_64-unknown-linux";
    append64(head, 0x1000);
    append64(head, 0xc30);
    EXPECT_EQ(b.substr(0, head.size()), head);

    HipFatbin f = read(b);
    ASSERT_TRUE(f.found);
    ASSERT_EQ(f.bundles.size(), 1u);
    EXPECT_EQ(f.bundles[0].compression, BundleCompression::none);
    EXPECT_EQ(f.bundles[0].size, 0x3000u + 0xf70u);
    ASSERT_EQ(f.entries.size(), 4u);

    const auto& host = f.entries[0];
    EXPECT_EQ(host.kind, OffloadKind::host);
    EXPECT_EQ(host.triple, "x86_64-unknown-linux");
    EXPECT_EQ(host.target_id, "");
    EXPECT_EQ(host.size, 0u);
    EXPECT_FALSE(host.is_device_code());

    struct Want {
        std::uint64_t offset, size;
        std::uint32_t e_flags;
        const char* target_id;
        const char* processor;
        TargetFeature xnack, sramecc;
    } want[] = {
        {0x1000, 0xc30, 0x36, "gfx1030", "gfx1030", TargetFeature::unsupported,
         TargetFeature::unsupported},
        {0x2000, 0xf70, 0x63f, "gfx90a:xnack-", "gfx90a", TargetFeature::off, TargetFeature::any},
        {0x3000, 0xf70, 0x540, "gfx940", "gfx940", TargetFeature::any, TargetFeature::any},
    };
    for (std::size_t i = 0; i < 3; ++i) {
        const auto& e = f.entries[i + 1];
        SCOPED_TRACE(e.id);
        EXPECT_EQ(e.kind, OffloadKind::hipv4);
        EXPECT_EQ(e.kind_name, "hipv4");
        EXPECT_EQ(e.triple, "amdgcn-amd-amdhsa-");
        EXPECT_EQ(e.target_id, want[i].target_id);
        EXPECT_EQ(e.offset, want[i].offset);
        EXPECT_EQ(e.size, want[i].size);
        EXPECT_FALSE(e.compressed);
        EXPECT_TRUE(e.header.is_amdgpu) << e.header.error;
        EXPECT_EQ(e.header.machine, 224);
        EXPECT_EQ(e.header.osabi, 64);
        EXPECT_EQ(e.header.code_object_version, 4u);
        EXPECT_EQ(e.header.e_flags, want[i].e_flags);
        EXPECT_EQ(e.header.target.processor, want[i].processor);
        EXPECT_EQ(e.header.target.xnack, want[i].xnack);
        EXPECT_EQ(e.header.target.sramecc, want[i].sramecc);
        EXPECT_EQ(e.target.processor, want[i].processor);
    }
    EXPECT_EQ(f.targets(), (std::vector<std::string>{"gfx1030", "gfx90a:xnack-", "gfx940"}));
}

TEST(HipFatbin, XnackOnCodeObjectDecodes) {
    HipFatbin f = read(five_entry_bundle());
    ASSERT_EQ(f.entries.size(), 5u);
    const auto& e = f.entries[1];
    EXPECT_EQ(e.target_id, "gfx90a:xnack+");
    EXPECT_EQ(e.target.xnack, TargetFeature::on);
    EXPECT_EQ(e.header.e_flags, 0x73fu);
    EXPECT_EQ(e.header.target.xnack, TargetFeature::on);
    EXPECT_EQ(e.header.target.sramecc, TargetFeature::any);
    EXPECT_EQ(f.entries[2].header.target.xnack, TargetFeature::off);
}

TEST(HipFatbin, CodeObjectHeaderVersionsAndUnknownMach) {
    auto v3 = decode_amdgpu_header(code_object(0x33f, 64, 1)); // v3: xnack and sramecc bits
    EXPECT_TRUE(v3.is_amdgpu);
    EXPECT_EQ(v3.code_object_version, 3u);
    EXPECT_EQ(v3.target.xnack, TargetFeature::on);
    EXPECT_EQ(v3.target.sramecc, TargetFeature::on);
    auto v5 = decode_amdgpu_header(code_object(0x44c, 64, 3));
    EXPECT_EQ(v5.code_object_version, 5u);
    EXPECT_EQ(v5.target.processor, "mach_0x4c"); // not in LLVM 15's table: left unnamed
    std::string cuda = code_object(0x5a, 64);
    put16(cuda, 0x12, 190);
    EXPECT_FALSE(decode_amdgpu_header(cuda).is_amdgpu);
    EXPECT_NE(decode_amdgpu_header(cuda).error.find("EM_AMDGPU"), std::string::npos);
    EXPECT_FALSE(decode_amdgpu_header("not an elf").is_amdgpu);
}

TEST(HipFatbin, FindsSectionInHostElfAndFile) {
    std::string section = observed_bundle();
    section.push_back('\0'); // clang ends the section with a NUL (0x3f71 observed)
    std::string elf = host_elf(section);
    HipFatbin f = read(elf);
    ASSERT_TRUE(f.found);
    EXPECT_EQ(f.section_offset, 0x1000u);
    EXPECT_EQ(f.section_size, 0x3f71u);
    EXPECT_EQ(f.entries.size(), 4u);

    std::string dir = temp_dir();
    write_file(dir + "/k_exe", elf);
    HipFatbin g = read_hip_fatbin_file(dir + "/k_exe");
    EXPECT_EQ(g.name, dir + "/k_exe");
    EXPECT_EQ(g.entries.size(), 4u);
    write_file(dir + "/empty", "");
    EXPECT_FALSE(read_hip_fatbin_file(dir + "/empty").found);
    try {
        read_hip_fatbin_file(dir + "/missing");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
    }
    std::remove((dir + "/k_exe").c_str());
    std::remove((dir + "/empty").c_str());
    ::rmdir(dir.c_str());
}

TEST(HipFatbin, NoHipCodeIsNotAnError) {
    EXPECT_FALSE(read("plain bytes").found);
    std::string no_section = host_elf("abc");
    std::size_t name = no_section.find(".hip_fatbin");
    no_section[name + 1] = 'x';
    EXPECT_FALSE(read(no_section).found);
}

TEST(HipFatbin, ConcatenatedBundlesAreIterated) {
    std::string a = bundle(
        {{"host-x86_64-unknown-linux", ""}, {kPrefix + "gfx1030", code_object(0x36, 0x100)}});
    std::string b = bundle({{"host-x86_64-unknown-linux", ""},
                            {kPrefix + "gfx90a:xnack-", code_object(0x63f, 0x100)}});
    std::string section = a;
    section.resize((section.size() + 4095) / 4096 * 4096, '\0');
    std::uint64_t second = section.size();
    section += b;
    section += ccob(3, 1, five_entry_bundle());
    HipFatbin f = read(host_elf(section));
    ASSERT_EQ(f.bundles.size(), 3u);
    EXPECT_EQ(f.bundles[1].offset, second);
    EXPECT_EQ(f.bundles[2].offset, second + b.size());
    EXPECT_EQ(f.entries.size(), 2u + 2u + 5u);
    EXPECT_EQ(f.entries[3].bundle, 1u);
    EXPECT_EQ(f.entries[3].target_id, "gfx90a:xnack-");
    EXPECT_TRUE(f.entries[5].compressed);
    EXPECT_FALSE(f.entries[3].compressed);
}

TEST(HipFatbin, CompressedBundlesEveryVersionAndMethod) {
    std::string inner = five_entry_bundle();
    for (unsigned version : {1u, 2u, 3u}) {
        for (unsigned method : {0u, 1u}) {
            SCOPED_TRACE("CCOB v" + std::to_string(version) + " method " + std::to_string(method));
            std::string c = ccob(version, method, inner);
            // Two in a row: v1 has no total size, so the reader finds the end from the stream.
            HipFatbin f = read(host_elf(c + c));
            ASSERT_EQ(f.bundles.size(), 2u);
            for (const auto& b : f.bundles) {
                EXPECT_EQ(b.compression,
                          method == 0 ? BundleCompression::zlib : BundleCompression::zstd);
                EXPECT_EQ(b.ccob_version, version);
                EXPECT_EQ(b.uncompressed_size, inner.size());
                EXPECT_EQ(b.size, c.size());
            }
            EXPECT_EQ(f.bundles[1].offset, c.size());
            ASSERT_EQ(f.entries.size(), 10u);
            EXPECT_TRUE(f.entries[1].compressed);
            EXPECT_EQ(f.entries[1].target_id, "gfx90a:xnack+");
            EXPECT_EQ(f.entries[1].header.e_flags, 0x73fu);
            EXPECT_EQ(f.entries[4].header.target.processor, "gfx1030");
        }
    }
    EXPECT_STREQ(to_string(BundleCompression::zstd), "zstd");
}

TEST(HipFatbin, TargetIdParsing) {
    auto t = parse_target_id("gfx90a:xnack-");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->processor, "gfx90a");
    EXPECT_EQ(t->xnack, TargetFeature::off);
    EXPECT_EQ(t->sramecc, TargetFeature::any);
    auto agent = parse_target_id("amdgcn-amd-amdhsa--gfx90a:sramecc+:xnack-");
    ASSERT_TRUE(agent);
    EXPECT_EQ(agent->sramecc, TargetFeature::on);
    EXPECT_EQ(agent->str(), "gfx90a:sramecc+:xnack-");
    EXPECT_EQ(parse_target_id("gfx90a:xnack-:sramecc+")->str(), "gfx90a:sramecc+:xnack-");
    EXPECT_EQ(parse_target_id("gfx942")->str(), "gfx942");
    EXPECT_EQ(parse_target_id("gfx9-4-generic:xnack+")->processor, "gfx9-4-generic");
    for (const char* bad : {"", ":xnack+", "gfx90a:", "gfx90a:xnack", "gfx90a:xnack+:xnack-",
                            "gfx90a:foo+", "gfx90a:xnack*"})
        EXPECT_FALSE(parse_target_id(bad)) << bad;
}

TEST(HipFatbin, MatchingRuleTable) {
    struct Row {
        const char* code_object;
        const char* device;
        bool runs;
    } rows[] = {
        {"gfx90a:xnack-", "gfx90a:sramecc+:xnack-", true},
        {"gfx90a:xnack-", "gfx90a:sramecc-:xnack-", true},
        {"gfx90a:xnack-", "gfx90a:xnack+", false},
        {"gfx90a:xnack-", "gfx90a:sramecc+:xnack+", false},
        {"gfx90a:xnack-", "gfx90a", false}, // the device states no xnack: not equal to "-"
        {"gfx90a:xnack-", "gfx942", false},
        {"gfx90a:xnack-", "gfx942:sramecc+:xnack-", false}, // no cross-processor compatibility
        {"gfx90a", "gfx90a:sramecc+:xnack+", true},
        {"gfx90a", "gfx90a:sramecc-:xnack-", true},
        {"gfx90a:sramecc+", "gfx90a:sramecc-:xnack-", false},
        {"gfx90a:sramecc+:xnack+", "gfx90a:sramecc+:xnack+", true},
        {"gfx940", "gfx942:sramecc+:xnack-", false},
        {"gfx1030", "gfx1030", true},
        {"gfx1030", "gfx1100", false},
    };
    for (const auto& r : rows) {
        auto co = parse_target_id(r.code_object), dev = parse_target_id(r.device);
        ASSERT_TRUE(co && dev);
        EXPECT_EQ(code_object_runs_on(*co, *dev), r.runs) << r.code_object << " on " << r.device;
    }
}

TEST(HipFatbin, WhichEntriesADeviceRuns) {
    HipFatbin f = read_hip_fatbin_bytes(five_entry_bundle(), "k_hipcc.o");
    auto m = match_hip_device(f, "amdgcn-amd-amdhsa--gfx90a:sramecc+:xnack-");
    ASSERT_EQ(m.runnable, (std::vector<std::size_t>{2}));
    EXPECT_EQ(m.summary, "gfx90a:xnack- in k_hipcc.o runs on gfx90a:sramecc+:xnack-");
    EXPECT_EQ(match_hip_device(f, "gfx90a:sramecc-:xnack+").runnable,
              (std::vector<std::size_t>{1}));
    EXPECT_EQ(match_hip_device(f, "gfx940:sramecc+:xnack-").runnable,
              (std::vector<std::size_t>{3}));

    auto none = match_hip_device(f, "amdgcn-amd-amdhsa--gfx942:sramecc+:xnack-");
    EXPECT_TRUE(none.none());
    EXPECT_EQ(none.summary, "none of the code objects in k_hipcc.o runs on gfx942:sramecc+:xnack- "
                            "(it has code for: gfx90a:xnack+, gfx90a:xnack-, gfx940, gfx1030)");
    try {
        match_hip_device(f, "gfx90a:bogus+");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage);
    }
}

TEST(HipFatbin, DamagedBundlesAreRefusedWithAMessage) {
    std::string good = observed_bundle();

    std::string count = good;
    put64(count, 24, std::uint64_t{1} << 60);
    EXPECT_NE(error_of(count).find("declares 1152921504606846976 entries"), std::string::npos);

    std::string offset = good;
    put64(offset, 24 + 8 + 24 + 25, 0x100000); // gfx1030's offset, past the end
    EXPECT_NE(error_of(offset).find("lies outside the bundle"), std::string::npos);

    std::string size = good;
    put64(size, 24 + 8 + 24 + 25 + 8, ~std::uint64_t{0}); // offset + size overflows
    EXPECT_NE(error_of(size).find("lies outside the bundle"), std::string::npos);

    std::string id_len = good;
    put64(id_len, 24 + 8 + 16, std::uint64_t{1} << 62);
    EXPECT_NE(error_of(id_len).find("ID length 4611686018427387904 runs past the end"),
              std::string::npos);

    EXPECT_NE(error_of(good.substr(0, 30)).find("truncated"), std::string::npos);
    EXPECT_NE(error_of(good.substr(0, 40)).find("more than its 40 bytes can hold"),
              std::string::npos);
    EXPECT_NE(error_of(good.substr(0, 0x1800)).find("lies outside the bundle"), std::string::npos);

    std::string section = good + std::string("\0\0\0garbage", 10);
    EXPECT_NE(error_of(host_elf(section)).find("unrecognised bytes at offset"), std::string::npos);

    std::string past_end = host_elf(good, 0x100000);
    EXPECT_NE(error_of(past_end).find(".hip_fatbin extends past the end of the file"),
              std::string::npos);
}

TEST(HipFatbin, DamagedCompressedBundlesAreRefused) {
    std::string inner = observed_bundle();
    EXPECT_NE(error_of(ccob(3, 1, inner, std::uint64_t{1} << 40))
                  .find("declares 1099511627776 uncompressed bytes, over the limit"),
              std::string::npos);
    EXPECT_NE(error_of(ccob(3, 0, inner, 0, std::uint64_t{1} << 40)).find("total size"),
              std::string::npos);
    EXPECT_NE(error_of(ccob(2, 0, inner, 0, 10)).find("total size"), std::string::npos);
    EXPECT_NE(error_of(ccob(4, 0, inner)).find("unknown version 4"), std::string::npos);
    EXPECT_NE(error_of(ccob(3, 7, inner)).find("unknown compression method 7"), std::string::npos);
    EXPECT_NE(error_of(std::string("CCOB\x03\x00", 6)).find("truncated"), std::string::npos);
    EXPECT_NE(error_of(ccob(3, 1, inner).substr(0, 20)).find("truncated"), std::string::npos);
    // Declared size smaller than the data: refused, not written past the buffer.
    EXPECT_NE(error_of(ccob(2, 0, inner, 100)).find("more than its declared 100"),
              std::string::npos);
    EXPECT_NE(error_of(ccob(2, 1, inner, 100)).find("not the declared 100"), std::string::npos);
    // Corrupt compressed data.
    for (unsigned method : {0u, 1u}) {
        std::string c = ccob(3, method, inner);
        for (std::size_t i = 40; i < c.size(); i += 7) c[i] = static_cast<char>(c[i] ^ 0x5a);
        EXPECT_NE(error_of(c).find("corrupt"), std::string::npos) << method;
    }
    // The decompressed bytes are not a bundle.
    EXPECT_NE(
        error_of(ccob(3, 1, std::string(4096, 'x'))).find("lacks the __CLANG_OFFLOAD_BUNDLE__"),
        std::string::npos);
}

TEST(HipFatbin, ZipBombsAreCapped) {
    // 64 MiB of zeros after a valid bundle header: tiny compressed, large inflated.
    std::string bomb = observed_bundle();
    bomb.resize(64u << 20, '\0');
    HipFatbinOptions opts;
    opts.max_decompressed = 8u << 20;
    for (unsigned method : {0u, 1u}) {
        std::string honest = ccob(3, method, bomb);
        EXPECT_LT(honest.size(), 1u << 20);
        EXPECT_NE(error_of(honest, opts).find("over the limit of 8388608; refused"),
                  std::string::npos);
        // Lying about its size to slip under the cap: decompression stops at the declared size.
        std::string liar = ccob(3, method, bomb, 4u << 20);
        EXPECT_NE(error_of(liar, opts).find("declared 4194304"), std::string::npos);
    }
}

TEST(HipFatbin, RandomMutationsNeverCrash) {
    std::vector<std::string> seeds = {host_elf(observed_bundle()), ccob(1, 0, observed_bundle()),
                                      ccob(2, 1, observed_bundle()),
                                      ccob(3, 0, five_entry_bundle())};
    std::mt19937 rng(22);
    int errors = 0, parsed = 0;
    for (const auto& seed : seeds) {
        for (int round = 0; round < 300; ++round) {
            std::string m = seed;
            int flips = 1 + static_cast<int>(rng() % 8);
            for (int i = 0; i < flips; ++i) {
                std::size_t at = rng() % std::min<std::size_t>(m.size(), 0x1200);
                if (rng() % 2) at = rng() % m.size();
                m[at] = static_cast<char>(rng());
            }
            if (rng() % 4 == 0) m.resize(rng() % m.size());
            try {
                read(m);
                ++parsed;
            } catch (const Error& e) {
                EXPECT_TRUE(e.message().starts_with("k_exe: ")) << e.message();
                ++errors;
            }
        }
    }
    EXPECT_GT(errors, 0);
    EXPECT_GT(parsed, 0);
}

// A real HIP object from Debian's clang (no ROCm needed: -nogpulib -nogpuinc, and the one
// declaration the host side of a kernel needs).
TEST(HipFatbin, RealClangHipObject) {
    std::string dir = temp_dir();
    write_file(dir + "/k.hip",
               "struct dim3 { unsigned x, y, z; };\n"
               "typedef struct ihipStream_t* hipStream_t;\n"
               "extern \"C\" int hipLaunchKernel(const void*, dim3, dim3, void**, unsigned long,"
               " hipStream_t);\n"
               "__attribute__((global)) void k(float* x) { x[0] = 1; }\n");
    std::string cmd = "cd " + dir +
                      " && clang -x hip --offload-arch=gfx90a:xnack- --offload-arch=gfx1030 "
                      "-nogpulib -nogpuinc -c k.hip -o k.o >clang.log 2>&1";
    int rc = std::system(cmd.c_str());
    if (rc != 0) {
        std::ifstream log(dir + "/clang.log");
        std::stringstream why;
        why << log.rdbuf();
        GTEST_SKIP() << "clang cannot build a HIP object here (rc " << rc << "): " << why.str();
    }
    HipFatbin f = read_hip_fatbin_file(dir + "/k.o");
    for (const char* name : {"/k.hip", "/k.o", "/clang.log"}) std::remove((dir + name).c_str());
    ::rmdir(dir.c_str());
    ASSERT_TRUE(f.found);
    ASSERT_EQ(f.entries.size(), 3u);
    EXPECT_EQ(f.entries[0].kind, OffloadKind::host);
    EXPECT_EQ(f.targets(), (std::vector<std::string>{"gfx1030", "gfx90a:xnack-"}));
    for (std::size_t i = 1; i < 3; ++i) {
        const auto& e = f.entries[i];
        EXPECT_EQ(e.kind, OffloadKind::hipv4);
        EXPECT_TRUE(e.header.is_amdgpu) << e.header.error;
        EXPECT_EQ(e.header.target.processor, e.target.processor);
        EXPECT_EQ(e.offset % 4096, 0u);
    }
    EXPECT_EQ(f.entries[2].header.target.xnack, TargetFeature::off);
    EXPECT_EQ(match_hip_device(f, "gfx90a:sramecc+:xnack-").runnable,
              (std::vector<std::size_t>{2}));
}
