// gpu_vendors/nvidia/gpu_facts: the image's GPU layout read from a fixture store, and the cache
// entry that lets a repeated GPU launch read nothing of the image.
#include "../../engine/fixture_store.hpp"
#include "gpu_vendors/nvidia/gpu_facts.hpp"
#include "gpu_vendors/nvidia/image_checks.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

namespace vendor_nvidia_gpu_facts_test {

using gantry::gpu_vendors::nvidia::ImageGpuFacts;
using gantry::testing::FixtureStore;
namespace nv = gantry::gpu_vendors::nvidia;

namespace {

gantry::store::Image image(FixtureStore& fx, const std::string& ref) {
    return gantry::store::find_image(fx.store(), ref);
}

} // namespace

TEST(NvidiaGpuFacts, LayoutOfADebianImage) {
    FixtureStore fx;
    fx.add_image("deb:1", {}, {{"etc/debian_version", "12.5\n"}, {"bin/sh", "#!"}});
    auto img = image(fx, "deb:1");
    auto l = nv::image_gpu_layout(gantry::rootfs::LayerFiles(fx.store(), img.config.diff_ids));
    EXPECT_EQ(l.lib_dir, std::string("/usr/lib/") + nv::kMultiarch);
    EXPECT_EQ(l.lib32_dir, "/usr/lib/i386-linux-gnu");
    EXPECT_EQ(l.compat_libcuda, "");
    EXPECT_FALSE(l.cached_sonames); // no linker cache: nothing to rebuild
}

// A Debian-built program staged with its C library alone (tests/gpu's image): Debian's loader
// searches the multiarch directories, never /usr/lib64.
TEST(NvidiaGpuFacts, LayoutOfADebianBuiltProgramStagedAlone) {
    FixtureStore fx;
    fx.add_image("staged:1", {},
                 {{std::string("lib/") + nv::kMultiarch + "/libc.so.6", "\x7f"
                                                                        "ELF"},
                  {"lib64/ld-linux-x86-64.so.2", "\x7f"
                                                 "ELF"},
                  {"usr/local/bin/vector_add", "\x7f"
                                               "ELF"}});
    auto img = image(fx, "staged:1");
    auto l = nv::image_gpu_layout(gantry::rootfs::LayerFiles(fx.store(), img.config.diff_ids));
    EXPECT_EQ(l.lib_dir, std::string("/usr/lib/") + nv::kMultiarch);
    EXPECT_EQ(l.lib32_dir, "/usr/lib/i386-linux-gnu");
}

// doctor's DT_NEEDED check end to end: a real ELF object of this host as the "driver library"
// (libstdc++ names libm.so.6, libc.so.6 and libgcc_s.so.1), an image whose library directories
// (Debian's multiarch one included, a link counted) hold some of them.
TEST(NvidiaGpuFacts, DoctorNamesWhatADriverLibraryNeedsAndTheImageLacks) {
    const std::string multiarch = nv::kMultiarch;
    const std::string lib = "/usr/lib/" + multiarch + "/libstdc++.so.6";
    if (::access(lib.c_str(), R_OK) != 0) GTEST_SKIP() << lib << " is not on this host";
    FixtureStore fx;
    fx.add_image("staged:2", {},
                 {{"lib/" + multiarch + "/libc.so.6", "\x7f"
                                                      "ELF"},
                  {"usr/lib/" + multiarch + "/libm.so.6", "\x7f"
                                                          "ELF"}});
    auto img = image(fx, "staged:2");
    gantry::gpu_vendors::nvidia::Host host;
    host.driver_version = "580.159.04";
    host.libraries.push_back({lib, "libstdc++.so.6.0.30", "libstdc++.so.6", false, {}});
    gantry::gpu_vendors::nvidia::GpuRequest req;
    req.inject = true;
    req.caps = {gantry::gpu_vendors::nvidia::Capability::compute};
    auto findings = nv::image_findings(fx.store(), img, "staged:2", {}, host, req, {});
    const gantry::findings::Finding* found = nullptr;
    for (auto& f : findings)
        if (f.id == "DRIVER-LIB-NEEDS-MISSING") found = &f;
    ASSERT_TRUE(found) << "no DRIVER-LIB-NEEDS-MISSING among " << findings.size() << " findings";
    EXPECT_NE(found->message.find("libgcc_s.so.1"), std::string::npos) << found->message;
    EXPECT_EQ(found->message.find("libm.so.6"), std::string::npos) << found->message;
    EXPECT_EQ(found->message.find("libc.so.6"), std::string::npos) << found->message;
}

TEST(NvidiaGpuFacts, LayoutOfAnotherImage) {
    FixtureStore fx;
    fx.add_image("rh:1", {},
                 {{"etc/redhat-release", "x"},
                  {"usr/local/cuda/compat/libcuda.so.580.95.05", "not an ELF file"},
                  {"etc/ld.so.cache", "not a cache"}});
    auto img = image(fx, "rh:1");
    auto l = nv::image_gpu_layout(gantry::rootfs::LayerFiles(fx.store(), img.config.diff_ids));
    EXPECT_EQ(l.lib_dir, "/usr/lib64");
    EXPECT_EQ(l.lib32_dir, "/usr/lib");
    EXPECT_EQ(l.compat_libcuda, "/usr/local/cuda/compat/libcuda.so.580.95.05");
    EXPECT_EQ(l.compat_note, ""); // unreadable note: none
    // an unreadable cache is rebuilt: it is taken to name libcuda.so.1
    ASSERT_TRUE(l.cached_sonames);
    EXPECT_EQ(*l.cached_sonames, (std::set<std::string>{"libcuda.so.1"}));
}

TEST(NvidiaGpuFacts, CacheEntryRoundTrips) {
    ImageGpuFacts f;
    f.findings.push_back({"CUDA-DRIVER-TOO-OLD", gantry::findings::Severity::fail, "m", "fix it"});
    f.findings.push_back({"INFO", gantry::findings::Severity::info, "i", ""});
    f.layout.lib_dir = "/usr/lib64";
    f.layout.compat_libcuda = "/usr/local/cuda/compat/libcuda.so.580.1.2";
    f.layout.compat_note = "{\"a\":1}";
    f.layout.cached_sonames = std::set<std::string>{"libc.so.6", "libcuda.so.1"};
    auto back = nv::gpu_facts_from_json(nlohmann::json::parse(nv::to_json(f).dump()));
    ASSERT_EQ(back.findings.size(), 2u);
    EXPECT_EQ(back.findings[0].id, "CUDA-DRIVER-TOO-OLD");
    EXPECT_EQ(back.findings[0].severity, gantry::findings::Severity::fail);
    EXPECT_EQ(back.findings[0].fix, "fix it");
    EXPECT_EQ(back.layout.lib_dir, "/usr/lib64");
    EXPECT_EQ(back.layout.compat_libcuda, f.layout.compat_libcuda);
    EXPECT_EQ(back.layout.compat_note, f.layout.compat_note);
    EXPECT_EQ(back.layout.cached_sonames, f.layout.cached_sonames);
    f.layout.cached_sonames.reset(); // "no cache" stays distinct from an empty one
    back = nv::gpu_facts_from_json(nv::to_json(f));
    EXPECT_FALSE(back.layout.cached_sonames);
    // a damaged entry is refused (and found afresh by the caller)
    EXPECT_ANY_THROW(nv::gpu_facts_from_json(nlohmann::json::array()));
    EXPECT_ANY_THROW(nv::gpu_facts_from_json({{"findings", 1}}));
}

} // namespace vendor_nvidia_gpu_facts_test
