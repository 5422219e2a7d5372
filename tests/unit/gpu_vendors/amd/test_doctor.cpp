// gpu_vendors/amd/doctor: the host rules against hand-made hosts (driver, /dev/kfd and render node
// access by mode, owner and group), and the image rules against a fixture store holding real HIP
// shared libraries compiled here with Debian's clang (skipped, saying so, when clang cannot build
// HIP), including the per-image cache that lets a repeated run read nothing of the image.
#include "../../engine/fixture_store.hpp"
#include "gpu_vendors/amd/doctor.hpp"

#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <sstream>

namespace vendor_amd_doctor_test {

using gantry::findings::Finding;
using gantry::findings::Severity;
using gantry::testing::FixtureStore;
namespace amd = gantry::gpu_vendors::amd;
namespace topo = gantry::gpu_vendors::amd;

namespace {

std::map<std::string, Finding> by_id(const std::vector<Finding>& v) {
    std::map<std::string, Finding> m;
    for (const auto& f : v) m.emplace(f.id, f);
    return m;
}

gantry::gpu_host::DeviceNode node(const std::string& path, std::uint32_t mode, std::uint32_t gid) {
    gantry::gpu_host::DeviceNode n;
    n.path = path;
    n.host_path = "/sim" + path;
    n.type = 'c';
    n.mode = mode;
    n.gid = gid;
    n.present = true;
    return n;
}

topo::Host mi250x_like(const std::string& driver) {
    topo::Host h;
    h.usable = true;
    h.driver_version = driver;
    h.kfd = node("/dev/kfd", 0660, 4242);
    for (int i = 0; i < 2; ++i) {
        topo::Gpu g;
        g.index = i;
        g.gfx_target = "gfx90a";
        g.sramecc = true;
        g.marketing_name = "AMD Instinct MI250X / MI250";
        g.uuid = "GPU-000000000000000" + std::to_string(i);
        g.render = node("/dev/dri/renderD" + std::to_string(128 + i), 0660, 4242);
        h.gpus.push_back(g);
    }
    return h;
}

gantry::gpu_vendors::CallerIds user(uid_t uid) {
    return {false, uid, 1000, false};
}

std::vector<const topo::Gpu*> all(const topo::Host& h) {
    std::vector<const topo::Gpu*> v;
    for (const auto& g : h.gpus) v.push_back(&g);
    return v;
}

// A HIP shared library (or, with PROGRAM, a PIE executable whose HIP runtime calls stay
// unresolved) built by clang for TARGETS ("" and a reason when clang cannot).
std::string build_hip_so(const std::string& targets, std::string* why, bool program = false) {
    char tmpl[] = "/tmp/gantry-hip-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    {
        std::ofstream src(dir + "/k.hip");
        src << "struct dim3 { unsigned x, y, z; };\n"
               "typedef struct ihipStream_t* hipStream_t;\n"
               "extern \"C\" int hipLaunchKernel(const void*, dim3, dim3, void**, unsigned long,"
               " hipStream_t);\n"
               "__attribute__((global)) void k(float* x) { x[0] = 1; }\n";
        if (program) src << "int main() { return 0; }\n";
    }
    std::string arch;
    std::stringstream ss(targets);
    for (std::string t; std::getline(ss, t, ',');) arch += " --offload-arch=" + t;
    std::string cmd =
        "cd " + dir + " && TMPDIR=" + dir + " clang++ -x hip" + arch + " -nogpulib -nogpuinc " +
        (program ? "-fPIE -pie -Wl,--unresolved-symbols=ignore-all" : "-shared -fPIC") +
        " k.hip -o k.so >clang.log 2>&1";
    int rc = std::system(cmd.c_str());
    std::stringstream bytes;
    if (rc == 0)
        bytes << std::ifstream(dir + "/k.so", std::ios::binary).rdbuf();
    else {
        std::stringstream log;
        log << std::ifstream(dir + "/clang.log").rdbuf();
        *why =
            "clang cannot build a HIP library here (rc " + std::to_string(rc) + "): " + log.str();
    }
    std::filesystem::remove_all(dir);
    return bytes.str();
}

} // namespace

TEST(AmdDoctorHost, DriverAndGpus) {
    auto f = by_id(amd::host_findings(mi250x_like("6.12.12"), {true, 0, 0, false}, {}));
    EXPECT_EQ(f["AMD-DRIVER"].severity, Severity::pass);
    EXPECT_NE(f["AMD-DRIVER"].message.find("6.12.12"), std::string::npos);
    EXPECT_NE(f["AMD-GPU"].message.find("gfx90a:sramecc+"), std::string::npos);
    EXPECT_FALSE(f.count("AMD-KFD-ACCESS"));
    // an in-tree driver has no version file: said so, not a failure
    auto all_in_tree = amd::host_findings(mi250x_like(""), {true, 0, 0, false}, {});
    f = by_id(all_in_tree);
    EXPECT_EQ(f["AMD-DRIVER"].severity, Severity::info);
    EXPECT_NE(f["AMD-DRIVER"].message.find("in-tree"), std::string::npos);
    EXPECT_NE(gantry::findings::worst(all_in_tree), Severity::fail);
    // no GPU at all
    topo::Host none;
    none.unusable_reason = "no KFD topology at /x: the amdgpu driver is not loaded";
    f = by_id(amd::host_findings(none, user(1000), {}));
    EXPECT_EQ(f["AMD-NO-DRIVER"].severity, Severity::fail);
    EXPECT_NE(f["AMD-NO-DRIVER"].message.find("no KFD topology"), std::string::npos);
}

TEST(AmdDoctorHost, KfdAndRenderAccessNameTheGroup) {
    auto h = mi250x_like("6.12.12");
    auto f = by_id(amd::host_findings(h, user(1000), {}));
    ASSERT_TRUE(f.count("AMD-KFD-ACCESS"));
    auto& k = f["AMD-KFD-ACCESS"];
    EXPECT_EQ(k.severity, Severity::fail);
    EXPECT_NE(k.message.find("/sim/dev/kfd"), std::string::npos) << k.message;
    EXPECT_NE(k.message.find("gid 4242"), std::string::npos) << k.message;
    EXPECT_NE(k.fix.find("70-amdgpu.rules"), std::string::npos);
    EXPECT_NE(k.fix.find("usermod -aG 4242"), std::string::npos) << k.fix;
    EXPECT_EQ(f["AMD-RENDER-ACCESS"].severity, Severity::fail);
    // near misses: in the group (supplementary), the owner, or a 0666 node (AMD's udev rule)
    EXPECT_FALSE(by_id(amd::host_findings(h, user(1000), {4242})).count("AMD-KFD-ACCESS"));
    h.kfd.uid = 1000;
    EXPECT_FALSE(by_id(amd::host_findings(h, user(1000), {})).count("AMD-KFD-ACCESS"));
    h.kfd.uid = 0;
    h.kfd.mode = 0666;
    f = by_id(amd::host_findings(h, user(1000), {}));
    EXPECT_FALSE(f.count("AMD-KFD-ACCESS"));
    EXPECT_TRUE(f.count("AMD-RENDER-ACCESS")); // the render nodes are still 0660
}

TEST(AmdDoctorHost, MissingNodes) {
    auto h = mi250x_like("6.12.12");
    h.kfd.present = false;
    h.gpus[1].render.present = false;
    auto f = by_id(amd::host_findings(h, {true, 0, 0, false}, {}));
    EXPECT_EQ(f["AMD-KFD-MISSING"].severity, Severity::fail);
    EXPECT_EQ(f["AMD-RENDER-MISSING"].severity, Severity::fail);
    EXPECT_NE(f["AMD-RENDER-MISSING"].message.find("GPU 1"), std::string::npos);
}

TEST(AmdDoctorImage, RealHipLibrariesAgainstTheSelectedGpus) {
    std::string why;
    auto so = build_hip_so("gfx90a:xnack-,gfx1030", &why);
    if (so.empty()) GTEST_SKIP() << why;
    auto obj = build_hip_so("gfx908", &why);
    ASSERT_FALSE(obj.empty()) << why;
    FixtureStore fx;
    fx.add_image("hip:1", {},
                 {{"usr/lib/libk.so", so},
                  {"opt/app/libmi100.so", obj},
                  {"opt/rocm-6.1.2/.info/version", "6.1.2-39\n"},
                  {"usr/bin/notelf", "#!/bin/sh\n"}});
    auto img = gantry::store::find_image(fx.store(), "hip:1");
    auto facts = amd::gather_image_facts(fx.store(), img, {});
    ASSERT_EQ(facts.hip.size(), 2u);
    std::map<std::string, std::vector<std::string>> texts;
    for (auto& h : facts.hip) texts[h.path] = h.texts;
    EXPECT_EQ(texts["/usr/lib/libk.so"], (std::vector<std::string>{"gfx1030", "gfx90a:xnack-"}));
    EXPECT_EQ(texts["/opt/app/libmi100.so"], (std::vector<std::string>{"gfx908"}));

    auto h = mi250x_like("5.18.13"); // ROCm 5.4's driver: ROCm 6.1 is too new for it
    auto f = by_id(amd::image_findings(fx.store(), img, "hip:1", {}, h, all(h)));
    EXPECT_EQ(f["ROCM-KMD-TOO-OLD"].severity, Severity::fail);
    ASSERT_TRUE(f.count("HIP-NO-CODE-OBJECT"));
    EXPECT_NE(f["HIP-NO-CODE-OBJECT"].message.find("/opt/app/libmi100.so"), std::string::npos);
    // --path restricts the scan to where the gfx90a library is: it fits the MI250X GCDs
    f = by_id(amd::image_findings(fx.store(), img, "hip:1", {}, h, all(h), "usr/"));
    EXPECT_FALSE(f.count("HIP-NO-CODE-OBJECT"));
    EXPECT_EQ(f["HIP-CODE-OBJECTS"].severity, Severity::pass);
    // HSA_XNACK=1: the GCDs run xnack+, which the xnack- code object does not fit
    f = by_id(amd::image_findings(fx.store(), img, "hip:1", {"HSA_XNACK=1"}, h, all(h), "usr/"));
    EXPECT_TRUE(f.count("HIP-NO-CODE-OBJECT"));
}

TEST(AmdDoctorImage, CachedPerImageDriverGpusAndEnv) {
    std::string why;
    auto so = build_hip_so("gfx1030", &why);
    if (so.empty()) GTEST_SKIP() << why;
    FixtureStore fx;
    fx.add_image("hip:2", {}, {{"usr/lib/libk.so", so}});
    auto img = gantry::store::find_image(fx.store(), "hip:2");
    auto cache = (fx.dir() / "cache").string();
    auto h = mi250x_like("6.12.12");
    auto first = amd::image_findings_cached(fx.store(), img, "hip:2", {}, h, all(h), cache);
    ASSERT_TRUE(by_id(first).count("HIP-NO-CODE-OBJECT"));
    std::vector<std::filesystem::path> entries;
    for (auto& e : std::filesystem::directory_iterator(cache)) entries.push_back(e.path());
    ASSERT_EQ(entries.size(), 1u);
    // A second run reads the entry, not the image: prove it by changing the entry.
    std::string text;
    {
        std::stringstream ss;
        ss << std::ifstream(entries[0]).rdbuf();
        text = ss.str();
    }
    auto at = text.find("HIP-NO-CODE-OBJECT");
    text.replace(at, 18, "HIP-FROM-THE-CACHE");
    std::ofstream(entries[0]) << text;
    auto second = amd::image_findings_cached(fx.store(), img, "hip:2", {}, h, all(h), cache);
    EXPECT_TRUE(by_id(second).count("HIP-FROM-THE-CACHE")) << text;
    // another environment, another GPU selection or driver: another entry, found afresh
    auto env = amd::image_findings_cached(fx.store(), img, "hip:2",
                                          {"HSA_OVERRIDE_GFX_VERSION=10.3.0"}, h, all(h), cache);
    EXPECT_FALSE(by_id(env).count("HIP-FROM-THE-CACHE"));
    EXPECT_FALSE(by_id(env).count("HSA-OVERRIDE-NO-CODE")); // gfx1030 code is there
    auto h2 = mi250x_like("5.18.13");
    auto drv = amd::image_findings_cached(fx.store(), img, "hip:2", {}, h2, all(h2), cache);
    EXPECT_TRUE(by_id(drv).count("HIP-NO-CODE-OBJECT"));
    // a damaged entry is found afresh
    std::ofstream(entries[0]) << "{ not json";
    auto again = amd::image_findings_cached(fx.store(), img, "hip:2", {}, h, all(h), cache);
    EXPECT_TRUE(by_id(again).count("HIP-NO-CODE-OBJECT"));
}

TEST(AmdDoctorImage, HostileBundleIsADamagedFileNotACrash) {
    std::string why;
    auto so = build_hip_so("gfx90a", &why);
    if (so.empty()) GTEST_SKIP() << why;
    // Corrupt the first entry's offset inside .hip_fatbin (after the 24-byte magic and count).
    auto at = so.find("__CLANG_OFFLOAD_BUNDLE__");
    ASSERT_NE(at, std::string::npos);
    for (int i = 0; i < 8; ++i) so[at + 32 + i] = '\xff';
    FixtureStore fx;
    fx.add_image("bad:1", {}, {{"usr/lib/libbad.so", so}});
    auto img = gantry::store::find_image(fx.store(), "bad:1");
    auto h = mi250x_like("");
    auto f = by_id(amd::image_findings(fx.store(), img, "bad:1", {}, h, all(h)));
    EXPECT_EQ(f["HIP-FATBIN-DAMAGED"].severity, Severity::warn);
    EXPECT_NE(f["HIP-FATBIN-DAMAGED"].message.find("/usr/lib/libbad.so"), std::string::npos);
    // An entry count no bundle can hold: refused with a reason, in the file's words.
    auto huge = so;
    for (int i = 0; i < 8; ++i) huge[at + 24 + i] = i < 7 ? '\xff' : '\x0f';
    auto path = (fx.dir() / "huge.so").string();
    std::ofstream(path, std::ios::binary) << huge;
    auto file = amd::scan_hip_file(path, "usr/lib/huge.so");
    ASSERT_TRUE(file);
    EXPECT_EQ(file->path, "/usr/lib/huge.so");
    EXPECT_NE(file->error.find(path), std::string::npos) << file->error;
    EXPECT_TRUE(file->targets.empty());
    // Truncated inside the bundle: the section headers (at the ELF's end) went with the tail,
    // so there is no .hip_fatbin to judge, and nothing breaks.
    so.resize(at + 40);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << so;
    EXPECT_FALSE(amd::scan_hip_file(path, "usr/lib/truncated.so"));
    EXPECT_FALSE(amd::scan_hip_file((fx.dir() / "nonexistent").string(), "x"));
}

TEST(AmdDoctorImage, AProgramWithoutCodeFailsALibraryOnlyWarnsWhenOthersHaveCode) {
    std::string why;
    auto good = build_hip_so("gfx90a", &why);
    if (good.empty()) GTEST_SKIP() << why;
    auto other = build_hip_so("gfx1030", &why);
    auto app = build_hip_so("gfx1030", &why, true);
    ASSERT_FALSE(other.empty() || app.empty()) << why;
    FixtureStore fx;
    fx.add_image("libs:1", {}, {{"usr/lib/libgood.so", good}, {"usr/lib/libsparse.so", other}});
    fx.add_image("app:1", {}, {{"usr/lib/libgood.so", good}, {"usr/bin/app", app}});
    auto h = mi250x_like("");
    // a library for other GPUs, beside one with code for these: its kernels fail when used
    auto img = gantry::store::find_image(fx.store(), "libs:1");
    auto f = by_id(amd::image_findings(fx.store(), img, "libs:1", {}, h, all(h)));
    ASSERT_TRUE(f.count("HIP-NO-CODE-OBJECT"));
    EXPECT_EQ(f["HIP-NO-CODE-OBJECT"].severity, Severity::warn);
    EXPECT_NE(f["HIP-NO-CODE-OBJECT"].message.find("/usr/lib/libsparse.so"), std::string::npos);
    EXPECT_NE(f["HIP-NO-CODE-OBJECT"].message.find("first of its kernels"), std::string::npos);
    // a program without code for the GPU fails, whatever the libraries have
    img = gantry::store::find_image(fx.store(), "app:1");
    f = by_id(amd::image_findings(fx.store(), img, "app:1", {}, h, all(h)));
    ASSERT_TRUE(f.count("HIP-NO-CODE-OBJECT"));
    EXPECT_EQ(f["HIP-NO-CODE-OBJECT"].severity, Severity::fail);
    EXPECT_NE(f["HIP-NO-CODE-OBJECT"].message.find("/usr/bin/app"), std::string::npos);
    // the scan tells a PIE program from a library by its interpreter
    auto path = (fx.dir() / "app").string();
    std::ofstream(path, std::ios::binary) << app;
    auto file = amd::scan_hip_file(path, "usr/bin/app");
    ASSERT_TRUE(file);
    EXPECT_TRUE(file->program);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << good;
    file = amd::scan_hip_file(path, "usr/lib/libgood.so");
    ASSERT_TRUE(file);
    EXPECT_FALSE(file->program);
}

} // namespace vendor_amd_doctor_test
