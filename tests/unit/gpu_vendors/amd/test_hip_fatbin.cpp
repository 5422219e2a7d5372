// gpu_vendors/amd/hip_fatbin against bundles built byte by byte (the layout of reference rocm.md
// §5's observed dump), compressed bundles made with zlib and zstd, the HIP runtime's matching
// table, and, where Debian's clang can build one, a real HIP object. Damaged input:
// test_hip_fatbin_damaged.cpp.
#include "hip_bundle_builders.hpp"

#include <filesystem>
#include <sstream>

namespace amd_hip_fatbin_test {

using namespace hip_bundle_test;

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

TEST(HipFatbin, EntryIdsWithOlderAndGenericForms) {
    HipFatbin f = read(bundle({{"host-x86_64-unknown-linux-gnu", ""},
                               {"hip-amdgcn-amd-amdhsa-gfx906:xnack-", code_object(0x22f, 64)},
                               {kPrefix + "gfx9-4-generic:xnack+", code_object(0x33f, 64)},
                               {"openmp-amdgcn-amd-amdhsa--gfx90a", code_object(0x53f, 64)},
                               {"sycl-spir64-unknown-unknown", "spirv"}}));
    ASSERT_EQ(f.entries.size(), 5u);
    EXPECT_EQ(f.entries[0].triple, "x86_64-unknown-linux-gnu");
    EXPECT_EQ(f.entries[0].target_id, "");
    EXPECT_EQ(f.entries[1].kind, OffloadKind::hip);
    EXPECT_EQ(f.entries[1].triple, "amdgcn-amd-amdhsa");
    EXPECT_EQ(f.entries[1].target_id, "gfx906:xnack-");
    EXPECT_EQ(f.entries[2].triple, "amdgcn-amd-amdhsa-");
    EXPECT_EQ(f.entries[2].target.processor, "gfx9-4-generic");
    EXPECT_EQ(f.entries[2].target.xnack, TargetFeature::on);
    EXPECT_EQ(f.entries[3].kind, OffloadKind::openmp);
    EXPECT_FALSE(f.entries[3].is_device_code()); // not loaded by the HIP runtime
    EXPECT_EQ(f.entries[4].kind, OffloadKind::unknown);
    EXPECT_EQ(f.entries[4].kind_name, "sycl");
    EXPECT_FALSE(f.entries[4].header.is_amdgpu);
    EXPECT_EQ(f.targets(), (std::vector<std::string>{"gfx906:xnack-", "gfx9-4-generic:xnack+"}));
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
    // processors hostile bundle IDs carry (found by fuzz/fuzz_hip_bundle): a second "--" (the
    // name printed would read back as another processor), blanks, control characters
    for (const char* bad : {"x--y--gfx90a", "amdgcn-amd-amdhsa--gfx90a--gfx942:xnack-", "gfx 90a",
                            "gfx90a\n:xnack-", "gfx90a\x1b[31m", "gfx90a\t"})
        EXPECT_FALSE(parse_target_id(bad)) << bad;
    EXPECT_EQ(parse_target_id("amdgcn-amd-amdhsa--gfx9-4-generic")->processor, "gfx9-4-generic");
    EXPECT_EQ(parse_target_id("gfx_test-1")->processor, "gfx_test-1");
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
    std::string cmd = "cd " + dir + " && TMPDIR=" + dir +
                      " clang -x hip --offload-arch=gfx90a:xnack- --offload-arch=gfx1030 "
                      "-nogpulib -nogpuinc -c k.hip -o k.o >clang.log 2>&1";
    int rc = std::system(cmd.c_str());
    if (rc != 0) {
        std::ifstream log(dir + "/clang.log");
        std::stringstream why;
        why << log.rdbuf();
        GTEST_SKIP() << "clang cannot build a HIP object here (rc " << rc << "): " << why.str();
    }
    HipFatbin f = read_hip_fatbin_file(dir + "/k.o");
    std::filesystem::remove_all(dir); // clang's temporary directories (TMPDIR) with it
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
    // Debian's clang 14 writes what rocm.md saw from hipcc 5.2: code object v4, 0x36 and 0x63f,
    // and a section one NUL longer than its last code object.
    EXPECT_EQ(f.entries[1].header.e_flags, 0x36u);
    EXPECT_EQ(f.entries[2].header.e_flags, 0x63fu);
    EXPECT_EQ(f.entries[2].header.code_object_version, 4u);
    EXPECT_EQ(f.section_size, f.entries[2].offset + f.entries[2].size + 1);
    EXPECT_EQ(f.entries[2].header.target.xnack, TargetFeature::off);
    EXPECT_EQ(match_hip_device(f, "gfx90a:sramecc+:xnack-").runnable,
              (std::vector<std::size_t>{2}));
}

} // namespace amd_hip_fatbin_test
