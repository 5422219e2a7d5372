// gpu_vendors/nvidia/kernels: which SASS runs on which compute capability (plain, a and f
// variants), which PTX the driver can JIT, and can_run's choice among an entry list.
#include "gpu_vendors/nvidia/kernels.hpp"

#include <gtest/gtest.h>
#include <string>

namespace nvidia_kernels_test {

using namespace gantry::gpu_vendors::nvidia;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

FatbinEntry sass(unsigned arch, ArchVariant v = ArchVariant::plain) {
    FatbinEntry e;
    e.kind = EntryKind::sass;
    e.arch = arch;
    e.variant = v;
    e.code_major = 1;
    e.code_minor = 8;
    return e;
}

FatbinEntry ptx(unsigned arch, int isa_major, int isa_minor, ArchVariant v = ArchVariant::plain) {
    FatbinEntry e;
    e.kind = EntryKind::ptx;
    e.arch = arch;
    e.variant = v;
    e.code_major = static_cast<std::uint16_t>(isa_major);
    e.code_minor = static_cast<std::uint16_t>(isa_minor);
    return e;
}

} // namespace

TEST(CompatKernels, SassRules) {
    EXPECT_TRUE(sass_runs_on(sass(80), 8, 6));
    EXPECT_TRUE(sass_runs_on(sass(80), 8, 9));
    EXPECT_FALSE(sass_runs_on(sass(86), 8, 0));
    EXPECT_FALSE(sass_runs_on(sass(80), 9, 0));
    EXPECT_FALSE(sass_runs_on(sass(75), 8, 0));
    EXPECT_TRUE(sass_runs_on(sass(90, ArchVariant::a), 9, 0));
    EXPECT_FALSE(sass_runs_on(sass(90, ArchVariant::a), 10, 0));
    EXPECT_FALSE(sass_runs_on(sass(100, ArchVariant::a), 10, 3));
    EXPECT_TRUE(sass_runs_on(sass(100, ArchVariant::f), 10, 0));
    EXPECT_TRUE(sass_runs_on(sass(100, ArchVariant::f), 10, 3));
    EXPECT_FALSE(sass_runs_on(sass(103, ArchVariant::f), 10, 0));
    EXPECT_TRUE(sass_runs_on(sass(120, ArchVariant::f), 12, 1));
    EXPECT_FALSE(sass_runs_on(sass(120, ArchVariant::f), 10, 0));
    EXPECT_TRUE(sass_runs_on(sass(120), 12, 1));
    EXPECT_FALSE(sass_runs_on(sass(121), 12, 0));

    EXPECT_TRUE(ptx_targets(ptx(80, 9, 0), 9, 0));
    EXPECT_TRUE(ptx_targets(ptx(100, 9, 0), 12, 0)); // plain PTX: any later compute capability
    EXPECT_FALSE(ptx_targets(ptx(90, 9, 0), 8, 9));
    EXPECT_TRUE(ptx_targets(ptx(100, 9, 0, ArchVariant::f), 10, 3));
    EXPECT_FALSE(ptx_targets(ptx(100, 9, 0, ArchVariant::f), 12, 0));
    EXPECT_TRUE(ptx_targets(ptx(90, 9, 0, ArchVariant::a), 9, 0));
    EXPECT_FALSE(ptx_targets(ptx(90, 9, 0, ArchVariant::a), 10, 0));
}

TEST(CompatKernels, CanRun) {
    // sm_80 SASS on an 8.6 GPU.
    auto r = can_run({sass(80)}, 8, 6, 12080);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.verdict, KernelVerdict::sass);
    EXPECT_EQ(r.entry, 0u);
    EXPECT_TRUE(contains(r.reason, "sm_80")) << r.reason;
    // sm_90a on 9.0 but not on 10.0.
    EXPECT_TRUE(can_run({sass(90, ArchVariant::a)}, 9, 0, 13000).ok);
    r = can_run({sass(90, ArchVariant::a)}, 10, 0, 13000);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.verdict, KernelVerdict::none);
    EXPECT_TRUE(contains(r.reason, "sm_90a")) << r.reason;
    // PTX compute_80 JIT-compiled on 9.0 when the driver knows the ISA.
    r = can_run({sass(80), ptx(80, 9, 0)}, 9, 0, 13000);
    EXPECT_EQ(r.verdict, KernelVerdict::ptx_jit);
    EXPECT_EQ(r.entry, 1u);
    r = can_run({sass(80), ptx(80, 9, 0)}, 9, 0, 12090);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(r.ptx_too_new);
    EXPECT_TRUE(can_run({ptx(80, 8, 7)}, 9, 0, 12080).ok);
    EXPECT_FALSE(can_run({ptx(80, 8, 8)}, 9, 0, 12080).ok);
    EXPECT_TRUE(can_run({ptx(80, 9, 9)}, 9, 0, 0).ok);      // unknown driver: ISA not checked
    EXPECT_FALSE(can_run({ptx(80, 9, 9)}, 9, 0, 13040).ok); // unknown ISA: assume too new
    // No kernel for 7.0.
    r = can_run({sass(80), sass(90), ptx(80, 9, 0)}, 7, 0, 13000);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.reason, "7.0")) << r.reason;
    EXPECT_TRUE(contains(r.reason, "sm_80, sm_90, compute_80")) << r.reason;
    EXPECT_EQ(r.rejected.size(), 3u);
    // The best SASS wins: highest compatible arch, a before plain.
    r = can_run({sass(80), sass(86), sass(89), ptx(89, 9, 0)}, 8, 9, 13000);
    EXPECT_EQ(r.arch, "sm_89");
    r = can_run({sass(90), sass(90, ArchVariant::a)}, 9, 0, 13000);
    EXPECT_EQ(r.arch, "sm_90a");
    r = can_run({sass(100, ArchVariant::f), sass(120, ArchVariant::f)}, 10, 3, 13000);
    EXPECT_EQ(r.arch, "sm_100f");
    // Stubs, relocatable entries and LTO IR are never loaded.
    auto stub = sass(86);
    stub.stub = true;
    auto rdc = sass(86);
    rdc.relocatable = true;
    FatbinEntry lto;
    lto.kind = EntryKind::lto;
    lto.arch = 86;
    r = can_run({stub, rdc, lto}, 8, 6, 13000);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.reason, "relocatable")) << r.reason;
    EXPECT_FALSE(can_run({}, 8, 0, 13000).ok);
}

} // namespace nvidia_kernels_test
