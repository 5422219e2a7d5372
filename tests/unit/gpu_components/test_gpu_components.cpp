// gpu_components: the compiled-in tables parse and every row names a declared source; files are
// recognised as the right component (listed and unlisted CUDA files, driver libraries, stubs,
// wheels, ROCm) and near misses are not; licence texts are identified by their markers; the
// deb822 / METADATA readers on real-shaped, malformed and oversized inputs.
#include "gpu_components/package_metadata.hpp"
#include "gpu_components/recognise.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace gpu_components_test {

using namespace gantry;
using namespace gantry::gpu_components;

namespace {

std::string id_of(std::string_view path, bool elf = true) {
    const Component* c = component_of(path, elf);
    return c ? c->id : "";
}

} // namespace

TEST(GpuComponents, TablesParseWithSources) {
    const Table& t = table();
    EXPECT_GT(t.components.size(), 30u);
    for (auto& c : t.components) {
        EXPECT_FALSE(c.source.empty()) << c.id;
        EXPECT_TRUE(c.vendor == "nvidia" || c.vendor == "amd" || c.vendor == "intel") << c.id;
    }
    ASSERT_NE(t.list("cuda-eula-2018-08"), nullptr);
    EXPECT_EQ(t.newest_list("cuda-eula")->id, "cuda-eula-2026-01");
}

TEST(GpuComponents, BadTablesAreRefusedNamingTheLine) {
    Table t;
    try {
        parse_table("sources: []\nlicences: []\nlists: []\ncomponents:\n  - id: x\n    name: X\n"
                    "    role: toolkit\n    files: [a]\n    colour: red\n    source: s\n",
                    "nvidia", "t.yaml", t);
        FAIL() << "accepted an unknown key";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("t.yaml line 9"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("colour"), std::string::npos);
    }
    EXPECT_THROW(parse_table("sources: []\nlicences: []\nlists: []\ncomponents:\n  - id: x\n"
                             "    name: X\n    role: toolkit\n    files: [a]\n    source: nope\n",
                             "nvidia", "t.yaml", t),
                 Error);
}

TEST(GpuComponents, RecognisesCudaFilesAndAttachmentA) {
    EXPECT_EQ(id_of("usr/local/cuda-13.0/targets/x86_64-linux/lib/libcudart.so.13.0.96"),
              "cuda-runtime");
    EXPECT_EQ(id_of("usr/local/cuda/bin/nvcc"), "cuda-tools");
    EXPECT_EQ(id_of("usr/local/cuda/bin/nvcc.profile", false), "cuda-toolkit-other");
    EXPECT_EQ(id_of("usr/local/cuda/include/cuda_fp16.h", false), "fp16-headers");
    EXPECT_EQ(id_of("usr/local/cuda/include/cuda_runtime.h", false), "cuda-toolkit-other");
    EXPECT_EQ(id_of("usr/local/cuda/lib64/stubs/libcuda.so"), "driver-stubs");
    EXPECT_EQ(id_of("usr/local/cuda-12.4/compat/libcuda.so.550.54.15"), "cuda-compat");
    EXPECT_EQ(id_of("usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15"), "driver-cuda");
    EXPECT_EQ(id_of("usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"), "driver-libraries");
    EXPECT_EQ(id_of("usr/lib/python3/dist-packages/nvidia/cudnn/lib/libcudnn_ops.so.9"), "cudnn");
    EXPECT_EQ(id_of("opt/venv/lib/python3.11/site-packages/nvidia/cu13/include/crt/math.h", false),
              "cuda-toolkit-other");
    EXPECT_EQ(id_of("usr/lib/x86_64-linux-gnu/libamdhip64.so.5"), "hip-runtime");
    EXPECT_EQ(id_of("lib/firmware/amdgpu/navi10_sos.bin", false), "amdgpu-firmware");
    EXPECT_EQ(id_of("opt/intel/oneapi/mkl/latest/lib/libmkl_core.so.2"), "mkl");
    EXPECT_EQ(id_of("usr/lib/x86_64-linux-gnu/libomp.so.5"), ""); // LLVM's OpenMP, not Intel's
    const Component* nvjit = component_of("usr/local/cuda/lib64/libnvJitLink.so.13", true);
    ASSERT_NE(nvjit, nullptr);
    EXPECT_TRUE(listed_in(*nvjit, "cuda-eula-2026-01"));
    EXPECT_FALSE(listed_in(*nvjit, "cuda-eula-2018-08"));
    // near misses
    EXPECT_EQ(id_of("usr/bin/nvcc", false), ""); // not ELF, not under the toolkit
    EXPECT_EQ(id_of("usr/lib/x86_64-linux-gnu/libcudata.so.1"), "");
    EXPECT_EQ(id_of("usr/local/cudax/lib/libfoo.so"), "");
    EXPECT_EQ(id_of("usr/include/vector_types.h", false), "");
    EXPECT_EQ(id_of("usr/lib/x86_64-linux-gnu/libc.so.6"), "");
    // a name without ".so" is no auditwheel name (fuzz_gpu_metadata: the hash check indexed
    // before the name's start, caught by _GLIBCXX_ASSERTIONS in the sanitizer build)
    EXPECT_EQ(id_of(""), "");
    EXPECT_EQ(id_of("x", false), "");
    EXPECT_EQ(id_of("usr/lib/-9f1e2d3c.so.1"), "");
}

TEST(GpuComponents, IdentifiesLicenceTexts) {
    auto eula = identify_licence("End User License Agreement\n...\n2. CUDA Toolkit Supplement "
                                 "to Software License Agreement for NVIDIA Software Development "
                                 "Kits\nRelease date: August 16, 2018\n");
    ASSERT_TRUE(eula);
    EXPECT_EQ(eula->licence, "cuda-eula");
    EXPECT_EQ(eula->list, "cuda-eula-2018-08");
    auto unknown_version =
        identify_licence("CUDA Toolkit Supplement to Software License Agreement, 1999");
    ASSERT_TRUE(unknown_version);
    EXPECT_EQ(unknown_version->list, "");
    auto bsd = identify_licence("Redistribution and use in source and binary forms, with or "
                                "without modification ... Neither the name of NVIDIA");
    ASSERT_TRUE(bsd);
    EXPECT_EQ(bsd->licence, "BSD-3-Clause");
    EXPECT_TRUE(bsd->open_source);
    EXPECT_FALSE(identify_licence("just some text"));
    EXPECT_FALSE(identify_licence(std::string(1 << 20, '\0')));
}

TEST(GpuComponents, TextRules) {
    EXPECT_EQ(text_rule("var/lib/dpkg/status").kind, TextKind::dpkg_status);
    EXPECT_EQ(text_rule("NGC-DL-CONTAINER-LICENSE").kind, TextKind::licence);
    EXPECT_EQ(text_rule("usr/share/doc/libamdhip64-5/copyright").kind, TextKind::copyright);
    EXPECT_EQ(text_rule("usr/share/doc/bash/copyright").kind, TextKind::none);
    EXPECT_EQ(
        text_rule("usr/lib/python3/site-packages/nvidia_cublas-13.1.0.3.dist-info/METADATA").kind,
        TextKind::pip_metadata);
    EXPECT_EQ(text_rule("usr/lib/python3/site-packages/requests-2.0.dist-info/METADATA").kind,
              TextKind::none);
    EXPECT_EQ(text_rule("x/nvidia_nccl_cu13-2.28.9.dist-info/licenses/License.txt").kind,
              TextKind::licence);
}

TEST(GpuComponents, Deb822AndMetadata) {
    auto pk = dpkg_installed("Package: libamdhip64-5\nStatus: install ok installed\nSource: "
                             "rocm-hipamd (5.2.3-8)\nVersion: 5.2.3-8\nDescription: x\n two\n .\n"
                             "\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n"
                             "garbage line\n: no name\nPackage: b\nStatus: install ok installed\n");
    ASSERT_EQ(pk.size(), 2u);
    EXPECT_EQ(pk[0].name, "libamdhip64-5");
    EXPECT_EQ(pk[0].version, "5.2.3-8");
    EXPECT_EQ(pk[0].source, "rocm-hipamd");
    EXPECT_EQ(pk[1].name, "b");
    // a name that is only a carriage return is no field (fuzz_gpu_metadata: "\r:" made a field
    // with an empty name)
    auto odd = parse_deb822("\r: x\nA: b\n", Deb822Limits{});
    ASSERT_EQ(odd.size(), 1u);
    ASSERT_EQ(odd[0].size(), 1u);
    EXPECT_EQ(odd[0][0].first, "A");
    EXPECT_EQ(debian_copyright_licence("Format: https://www.debian.org/doc/packaging-manuals/"
                                       "copyright-format/1.0/\n\nFiles: *\nCopyright: AMD\n"
                                       "License: Expat\n\nFiles: x/*\nLicense: BSD-3-clause\n"),
              "Expat");
    EXPECT_FALSE(debian_copyright_licence("This package was debianized by someone.\n"));
    auto m = parse_pip_metadata("Metadata-Version: 2.4\nName: nvidia-cuda-runtime\nVersion: "
                                "13.0.96\nLicense-Expression: LicenseRef-NVIDIA-Proprietary\n"
                                "License-File: License.txt\n\nName: not-a-header\n");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->name, "nvidia-cuda-runtime");
    EXPECT_EQ(m->licence, "LicenseRef-NVIDIA-Proprietary");
    ASSERT_EQ(m->licence_files.size(), 1u);
    EXPECT_FALSE(parse_pip_metadata("Name: x\n"));
    // oversized values are cut at the limit, fields over the count dropped
    Deb822Limits lim;
    lim.max_value = 10, lim.max_fields = 2;
    auto ps = parse_deb822("A: " + std::string(100, 'x') + "\nB: 1\nC: 2\n", lim);
    ASSERT_EQ(ps.size(), 1u);
    EXPECT_EQ(ps[0].size(), 2u);
    EXPECT_EQ(ps[0][0].second.size(), 10u);
}

} // namespace gpu_components_test
