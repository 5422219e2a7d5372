// Intel's user space under a driver root: the drivers' own dependencies followed through their
// DT_NEEDED entries under the rule of driver_deps.hpp, the legacy1 build's names, the driver's
// version, and the doctor's loader/driver and dependency rules (docs/reference/intel-gpu.md §5).
#include "../../support/temp_dir.hpp"
#include "elf_so.hpp"
#include "gpu_vendors/intel/doctor_driver.hpp"
#include "gpu_vendors/intel/driver_deps.hpp"
#include "gpu_vendors/intel/userspace.hpp"
#include "intelhost_tree.hpp"

#include <gtest/gtest.h>

namespace intel_userspace_test {

using namespace gantry;
namespace intel = gantry::gpu_vendors::intel;
using intel_unit::elf_so;
using intel_unit::tree_link;
using intel_unit::tree_write;

const char* const kLib = "usr/lib/x86_64-linux-gnu";

// SONAME link -> versioned file holding an ELF with NEEDED
void so(const std::filesystem::path& root, const std::string& soname, const std::string& real,
        const std::vector<std::string>& needed) {
    auto dir = root / kLib;
    tree_write(dir / real, elf_so(soname, needed));
    if (soname != real) tree_link(dir / soname, real);
}

// Debian 12's layout (readelf -d on its packages), without the loader when LOADER is false.
void debian12(const std::filesystem::path& root, bool loader, const std::string& build) {
    if (loader) so(root, "libze_loader.so.1", "libze_loader.so.1.8.0", {"libstdc++.so.6"});
    so(root, "libze_intel_gpu.so.1", "libze_intel_gpu.so.1.3." + build,
       {"libigdgmm.so.12", "libstdc++.so.6", "libm.so.6", "libc.so.6", "ld-linux-x86-64.so.2"});
    so(root, "libigdgmm.so.12", "libigdgmm.so.12.3.0", {"libstdc++.so.6", "libgcc_s.so.1"});
    so(root, "libigc.so.1", "libigc.so.1.0.1",
       {"libLLVMSPIRVLib.so.14", "libLLVM-14.so.1", "libz.so.1", "libstdc++.so.6"});
    so(root, "libigdfcl.so.1", "libigdfcl.so.1.0.1", {"libopencl-clang.so.14", "libLLVM-14.so.1"});
    so(root, "libLLVM-14.so.1", "libLLVM-14.so.1",
       {"libffi.so.8", "libedit.so.2", "libz.so.1", "libxml2.so.2", "libstdc++.so.6"});
    so(root, "libLLVMSPIRVLib.so.14", "libLLVMSPIRVLib.so.14", {"libLLVM-14.so.1"});
    so(root, "libopencl-clang.so.14", "libopencl-clang.so.14",
       {"libLLVMSPIRVLib.so.14", "libclang-cpp.so.14", "libLLVM-14.so.1"});
    so(root, "libclang-cpp.so.14", "libclang-cpp.so.14", {"libLLVM-14.so.1"});
    tree_write(root / kLib / "intel-opencl/libigdrcl.so",
               elf_so("libigdrcl.so", {"libigdgmm.so.12", "libc.so.6"}));
    tree_write(root / "etc/OpenCL/vendors/intel.icd",
               "/usr/lib/x86_64-linux-gnu/intel-opencl/libigdrcl.so\n");
}

std::vector<std::string> names(const intel::UserSpace& u) {
    std::vector<std::string> out;
    for (const auto& l : u.libraries) out.push_back(l.name);
    return out;
}

TEST(IntelDriverDeps, TheRuleAndTheVersions) {
    EXPECT_EQ(intel::classify_dependency("libc.so.6"), intel::DepKind::c_runtime);
    EXPECT_EQ(intel::classify_dependency("libstdc++.so.6"), intel::DepKind::c_runtime);
    EXPECT_EQ(intel::classify_dependency("ld-linux-x86-64.so.2"), intel::DepKind::c_runtime);
    EXPECT_EQ(intel::classify_dependency("libigdgmm.so.12"), intel::DepKind::driver);
    EXPECT_EQ(intel::classify_dependency("libLLVM-14.so.1"), intel::DepKind::driver);
    EXPECT_EQ(intel::classify_dependency("libopencl-clang.so.14"), intel::DepKind::driver);
    EXPECT_EQ(intel::classify_dependency("libz.so.1"), intel::DepKind::general);
    EXPECT_EQ(intel::classify_dependency("libedit.so.2"), intel::DepKind::general);

    EXPECT_EQ(intel::driver_build("22.43.24595.41-1"), 24595);
    EXPECT_EQ(intel::driver_build("1.3.30872.22"), 30872);
    EXPECT_EQ(intel::driver_build("1.2.021182.9361"), 21182);
    EXPECT_FALSE(intel::driver_build("1.8"));
    EXPECT_FALSE(intel::driver_build("a.b.c"));
    auto d = intel::driver_version_from_file("libze_intel_gpu.so.1.3.24595");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->build, 24595);
    EXPECT_EQ(intel::driver_version_from_file("libze_intel_gpu_legacy1.so.1.3.30872.22")->build,
              30872);
    EXPECT_FALSE(intel::driver_version_from_file("libze_intel_gpu.so.1"));

    auto l = intel::loader_version_from_file("libze_loader.so.1.17.6");
    ASSERT_TRUE(l);
    EXPECT_EQ(l->str(), "1.17.6");
    EXPECT_FALSE(intel::loader_version_from_file("libze_loader.so.1"));
    EXPECT_EQ(intel::loader_driver_minimum(*l)->build, 19150);
    EXPECT_EQ(intel::loader_driver_minimum({1, 2, 3})->build, 19150);
    EXPECT_FALSE(intel::loader_driver_minimum({1, 2, 2}));
    EXPECT_FALSE(intel::loader_driver_minimum({1, 1, 0}));
    EXPECT_EQ(intel::loader_driver_minimum({1, 0, 26})->build, 17625);
}

TEST(IntelUserSpace, FollowsTheDriversNeededEntriesUnderTheRule) {
    unit_support::TempDir t("intel-deps");
    debian12(t.path, true, "24595");
    auto u = intel::find_user_space(t.path.string());
    EXPECT_TRUE(u.missing.empty()) << u.missing[0];
    auto n = names(u);
    std::vector<std::string> want{
        "libze_loader.so.1",     "libze_intel_gpu.so.1", "libigc.so.1",           "libigdfcl.so.1",
        "libigdrcl.so",          "libigdgmm.so.12",      "libLLVMSPIRVLib.so.14", "libLLVM-14.so.1",
        "libopencl-clang.so.14", "libclang-cpp.so.14"};
    EXPECT_EQ(n, want);
    EXPECT_EQ(u.libraries[5].needed_by, "libze_intel_gpu.so.1");
    EXPECT_EQ(u.libraries[5].real_path, "/usr/lib/x86_64-linux-gnu/libigdgmm.so.12.3.0");
    // never the C/C++ runtime; general-purpose libraries are listed, not injected
    std::vector<std::string> left{"libz.so.1", "libffi.so.8", "libedit.so.2", "libxml2.so.2"};
    EXPECT_EQ(u.left_to_image_names, left);
    EXPECT_EQ(u.left_to_image[0], "libz.so.1 (needed by libigc.so.1)");
    ASSERT_TRUE(u.driver_version);
    EXPECT_EQ(u.driver_version->build, 24595); // from the driver file's name
    EXPECT_EQ(u.driver_version->text, "1.3.24595");

    // a driver dependency that is not there is missing, named with what needs it
    std::filesystem::remove(t.path / kLib / "libigdgmm.so.12.3.0");
    u = intel::find_user_space(t.path.string());
    ASSERT_EQ(u.missing.size(), 1u);
    EXPECT_EQ(u.missing[0], "libigdgmm.so.12 (needed by libze_intel_gpu.so.1)");
    ASSERT_TRUE(u.driver_version);
    EXPECT_EQ(u.driver_version->text, "1.3.24595");
}

TEST(IntelUserSpace, TheLegacy1BuildAloneIsAUserSpace) {
    unit_support::TempDir t("intel-legacy");
    so(t.path, "libze_loader.so.1", "libze_loader.so.1.17.6", {});
    so(t.path, "libze_intel_gpu_legacy1.so.1", "libze_intel_gpu_legacy1.so.1.3.30872.22",
       {"libigdgmm.so.12"});
    so(t.path, "libigdgmm.so.12", "libigdgmm.so.12.5.0", {});
    so(t.path, "libigc.so.1", "libigc.so.1.0.17537", {});
    so(t.path, "libigdfcl.so.1", "libigdfcl.so.1.0.17537", {});
    tree_write(t.path / kLib / "intel-opencl/libigdrcl_legacy1.so",
               elf_so("libigdrcl_legacy1.so", {"libigdgmm.so.12"}));
    tree_write(t.path / "etc/OpenCL/vendors/intel_legacy1.icd", "libigdrcl_legacy1.so\n");
    auto u = intel::find_user_space(t.path.string());
    EXPECT_TRUE(u.missing.empty()) << u.missing[0];
    EXPECT_TRUE(u.has("libze_intel_gpu_legacy1.so.1"));
    EXPECT_FALSE(u.has("libze_intel_gpu.so.1"));
    EXPECT_TRUE(u.has("libigdrcl_legacy1.so"));
    EXPECT_TRUE(u.has("libigdgmm.so.12"));
    ASSERT_EQ(u.icds.size(), 1u);
    EXPECT_EQ(u.icds[0].path, "/etc/OpenCL/vendors/intel_legacy1.icd");
    EXPECT_EQ(u.driver_version->build, 30872);
    // neither driver: the regular one is what is missing
    std::filesystem::remove(t.path / kLib / "libze_intel_gpu_legacy1.so.1");
    u = intel::find_user_space(t.path.string());
    ASSERT_FALSE(u.missing.empty());
    EXPECT_EQ(u.missing[0], "libze_intel_gpu.so.1");
}

TEST(IntelDoctor, TheImagesLoaderAgainstTheHostsDriver) {
    unit_support::TempDir t("intel-loader");
    debian12(t.path, false, "17767"); // a 2020 driver (20.35.17767), no loader on the host
    auto u = intel::find_user_space(t.path.string());
    ASSERT_TRUE(intel::driver_rules_apply(u));
    intel::ImageLibraries img;
    img.names = {"libz.so.1", "libffi.so.8", "libedit.so.2", "libxml2.so.2"};
    img.loader = intel::LoaderVersion{1, 17, 6};
    img.loader_path = "/usr/lib/x86_64-linux-gnu/libze_loader.so.1.17.6";
    auto f = intel::driver_findings(u, img);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].id, "INTEL-LOADER-DRIVER");
    EXPECT_EQ(f[0].severity, findings::Severity::warn);
    EXPECT_NE(f[0].message.find("loader 1.17.6"), std::string::npos) << f[0].message;
    EXPECT_NE(f[0].message.find("21.09.19150"), std::string::npos) << f[0].message;
    EXPECT_NE(f[0].message.find("1.3.17767 (build 17767"), std::string::npos) << f[0].message;
    EXPECT_NE(f[0].fix.find("libze1"), std::string::npos) << f[0].fix;
    // a 1.0.x loader asks less: 20.32.17625
    img.loader = intel::LoaderVersion{1, 0, 26};
    f = intel::driver_findings(u, img);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].severity, findings::Severity::pass);
    // the host's loader is injected with its driver: no rule
    so(t.path, "libze_loader.so.1", "libze_loader.so.1.8.0", {});
    u = intel::find_user_space(t.path.string());
    EXPECT_TRUE(intel::driver_findings(u, img).empty());
    // an image without libedit and libxml2: named, with what needs them
    img.names = {"libz.so.1", "libffi.so.8"};
    f = intel::driver_findings(u, img);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].id, "INTEL-DRIVER-DEPS");
    EXPECT_NE(f[0].message.find("libedit.so.2 (needed by libLLVM-14.so.1), libxml2.so.2"),
              std::string::npos)
        << f[0].message;
}

TEST(IntelDoctor, TheInstallHintNamesTheHostsPackages) {
    unit_support::TempDir t("intel-hint");
    auto other = intel::install_hint(t.path.string());
    EXPECT_NE(other.find("libze-intel-gpu1"), std::string::npos) << other;
    EXPECT_NE(other.find("Debian 12: libze1 intel-opencl-icd"), std::string::npos) << other;
    tree_write(t.path / "usr/lib/os-release", "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n"
                                              "ID=debian\n");
    tree_link(t.path / "etc/os-release", "../usr/lib/os-release");
    auto deb = intel::install_hint(t.path.string());
    EXPECT_EQ(deb.find("Intel's packages"), std::string::npos) << deb;
    EXPECT_NE(deb.find("Debian 12's packages: libze1 intel-opencl-icd"), std::string::npos) << deb;
}

} // namespace intel_userspace_test
