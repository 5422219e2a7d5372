// gpu_vendors/amd/rocm_rules: each ROCm image rule fires on its case and stays silent on a near
// miss; the facts come from add_rocm_file_facts / add_rocm_env_facts as the image walk feeds them.
#include "gpu_vendors/amd/rocm_rules.hpp"

#include <gtest/gtest.h>
#include <map>

namespace amd_rocm_rules_test {

using namespace gantry::image_facts;
using namespace gantry::findings;
using namespace gantry::gpu_vendors::amd;

namespace {

std::map<std::string, Finding> by_id(const std::vector<Finding>& v) {
    std::map<std::string, Finding> m;
    for (const auto& f : v) m.emplace(f.id, f);
    return m;
}

RocmGpu gpu(int index, const char* target) {
    RocmGpu g;
    g.index = index;
    g.name = "test GPU";
    g.target = *parse_target_id(target);
    return g;
}

RocmHostFacts host(const char* driver, std::vector<RocmGpu> gpus) {
    RocmHostFacts h;
    h.driver_version = driver;
    h.gpus = std::move(gpus);
    return h;
}

HipCodeFile code(const char* path, std::vector<const char*> targets) {
    HipCodeFile f;
    f.path = path;
    for (auto* t : targets) {
        f.targets.push_back(*parse_target_id(t));
        f.texts.push_back(t);
    }
    return f;
}

RocmImageFacts rocm_image(const char* info_version) {
    RocmImageFacts img;
    add_rocm_file_facts(img, "opt/rocm/.info/version", info_version);
    return img;
}

} // namespace

TEST(RocmFacts, OneWalkFindsReleasesTorchAndCuda) {
    RocmImageFacts img;
    add_rocm_file_facts(img, "opt/rocm-6.1.2/.info/version", "6.1.2-39\n");
    add_rocm_file_facts(img, "opt/rocm-6.1.2/lib/libamdhip64.so.6.1.40091", "");
    add_rocm_file_facts(img, "opt/rocm-6.1.2/lib/libhsa-runtime64.so.1.13.60100", "");
    const std::string site = "usr/lib/python3/dist-packages/";
    add_rocm_file_facts(img, site + "torch/version.py",
                        "__version__ = '2.4.0+rocm6.1'\ncuda: Optional[str] = None\n"
                        "hip: Optional[str] = '6.1.40091-a8dbc0c19'\n");
    add_rocm_file_facts(img, site + "torch/lib/libamdhip64.so", "");
    add_rocm_file_facts(img, site + "torch-2.4.0+rocm6.1.dist-info/METADATA", "");
    add_rocm_env_facts(
        img, {"HSA_OVERRIDE_GFX_VERSION=10.3.0", "PYTORCH_ROCM_ARCH=gfx90a", "HSA_XNACK=1"});
    EXPECT_TRUE(img.is_rocm());
    EXPECT_TRUE(rocm_wants_contents("opt/rocm/.info/version"));
    EXPECT_TRUE(rocm_wants_contents(site + "torch/version.py"));
    EXPECT_FALSE(rocm_wants_contents("opt/rocm-dev/.info/version"));
    std::vector<std::string> sources;
    for (auto& e : img.rocm) {
        EXPECT_EQ(e.version, "6.1") << e.source;
        sources.push_back(e.source);
    }
    EXPECT_EQ(sources,
              (std::vector<std::string>{"/opt/rocm-6.1.2/.info/version", "/opt/rocm-6.1.2",
                                        "/opt/rocm-6.1.2/lib/libamdhip64.so.6.1.40091",
                                        "/opt/rocm-6.1.2/lib/libhsa-runtime64.so.1.13.60100",
                                        "/" + site + "torch/version.py (torch.version.hip)",
                                        "pip torch 2.4.0+rocm6.1"}));
    EXPECT_EQ(img.torch_version, "2.4.0+rocm6.1");
    EXPECT_EQ(img.torch_hip, "6.1.40091-a8dbc0c19");
    EXPECT_EQ(img.torch_rocm_libs, (std::vector<std::string>{"libamdhip64.so"}));
    EXPECT_EQ(img.hsa_override, "10.3.0");
    EXPECT_EQ(img.pytorch_rocm_arch, "gfx90a");
    EXPECT_TRUE(img.xnack_on);
    EXPECT_TRUE(img.cuda.empty());

    RocmImageFacts cuda;
    add_rocm_file_facts(cuda, "usr/local/cuda-12.4/version.json",
                        R"({"cuda": {"name": "CUDA SDK", "version": "12.4.1"}})");
    add_rocm_file_facts(cuda, "usr/lib/libcudart.so.12.4.127", "");
    ASSERT_EQ(cuda.cuda.size(), 2u);
    EXPECT_EQ(cuda.cuda[0].version, "12.4.1");
    EXPECT_FALSE(cuda.is_rocm());
}

TEST(RocmRules, KernelDriverTooOldForTheImagesRocm) {
    // amdgpu 5.18.x is ROCm 5.4's driver: AMD lists user space 5.2 to 5.6 with it.
    auto f = by_id(check_kmd_compat(host("5.18.13", {}), rocm_image("6.1.2-39")));
    ASSERT_TRUE(f.count("ROCM-KMD-TOO-OLD"));
    EXPECT_EQ(f["ROCM-KMD-TOO-OLD"].severity, Severity::fail);
    EXPECT_NE(f["ROCM-KMD-TOO-OLD"].message.find("ROCm 6.1"), std::string::npos);
    EXPECT_NE(f["ROCM-KMD-TOO-OLD"].message.find("5.2 to 5.6"), std::string::npos);
    EXPECT_NE(f["ROCM-KMD-TOO-OLD"].fix.find("rocm.docs.amd.com"), std::string::npos);
    // near miss: ROCm 5.6 is in the row
    f = by_id(check_kmd_compat(host("5.18.13", {}), rocm_image("5.6.1")));
    EXPECT_FALSE(f.count("ROCM-KMD-TOO-OLD"));
    EXPECT_EQ(f["ROCM-KMD-COMPAT"].severity, Severity::pass);
    // older than the row: a warning, not a failure
    f = by_id(check_kmd_compat(host("5.18.13", {}), rocm_image("5.1.0")));
    EXPECT_EQ(f["ROCM-KMD-UNTESTED"].severity, Severity::warn);
}

TEST(RocmRules, UnknownDriversAreInfo) {
    for (const char* driver : {"", "6.12.12", "6.16.6"}) {
        auto all = check_kmd_compat(host(driver, {}), rocm_image("6.1.2"));
        auto f = by_id(all);
        ASSERT_TRUE(f.count("ROCM-KMD-UNKNOWN")) << driver;
        EXPECT_EQ(f["ROCM-KMD-UNKNOWN"].severity, Severity::info);
        EXPECT_EQ(worst(all), Severity::info) << driver;
    }
    // an image without ROCm: nothing to say
    EXPECT_TRUE(check_kmd_compat(host("5.18.13", {}), RocmImageFacts{}).empty());
}

TEST(RocmRules, NoCodeObjectForASelectedGpu) {
    RocmImageFacts img = rocm_image("6.1.2");
    img.hip.push_back(code("/usr/lib/libk.so", {"gfx90a:xnack-", "gfx1030"}));
    auto f = by_id(check_hip_code(host("", {gpu(0, "gfx1100")}), img));
    ASSERT_TRUE(f.count("HIP-NO-CODE-OBJECT"));
    auto& k = f["HIP-NO-CODE-OBJECT"];
    EXPECT_EQ(k.severity, Severity::fail);
    for (const char* word : {"/usr/lib/libk.so", "gfx90a:xnack-, gfx1030", "GPU 0", "gfx1100",
                             "hipErrorNoBinaryForGpu"})
        EXPECT_NE(k.message.find(word), std::string::npos) << word << ": " << k.message;
    EXPECT_NE(k.fix.find("--offload-arch=gfx1100"), std::string::npos);
    // near miss: an MI250X GCD (gfx90a, xnack off by default) has its code object
    f = by_id(check_hip_code(host("", {gpu(0, "gfx90a:sramecc+")}), img));
    EXPECT_FALSE(f.count("HIP-NO-CODE-OBJECT"));
    EXPECT_EQ(f["HIP-CODE-OBJECTS"].severity, Severity::pass);
    // ... but with HSA_XNACK=1 the device is xnack+ and the xnack- code object does not fit
    img.xnack_on = true;
    f = by_id(check_hip_code(host("", {gpu(0, "gfx90a:sramecc+")}), img));
    EXPECT_TRUE(f.count("HIP-NO-CODE-OBJECT"));
    // a generic code object covers the RX 7900 XTX
    img.xnack_on = false;
    img.hip.push_back(code("/usr/lib/libg.so", {"gfx11-generic"}));
    img.hip[0] = code("/usr/lib/libk.so", {"gfx1100"});
    f = by_id(check_hip_code(host("", {gpu(0, "gfx1100")}), img));
    EXPECT_FALSE(f.count("HIP-NO-CODE-OBJECT"));
}

TEST(RocmRules, PyTorchsCoreLibraryWithoutCodeFails) {
    RocmImageFacts img = rocm_image("6.1.2");
    img.hip.push_back(code("/usr/lib/librocblas.so", {"gfx90a", "gfx1100"}));
    img.hip.push_back(code("/opt/venv/torch/lib/libtorch_hip.so", {"gfx90a"}));
    auto f = by_id(check_hip_code(host("", {gpu(0, "gfx1100")}), img));
    ASSERT_TRUE(f.count("HIP-NO-CODE-OBJECT"));
    EXPECT_EQ(f["HIP-NO-CODE-OBJECT"].severity, Severity::fail); // every GPU op goes through it
    // near miss: another library of the same image only warns
    img.hip[1] = code("/opt/venv/torch/lib/libhipsparselt.so", {"gfx942"});
    f = by_id(check_hip_code(host("", {gpu(0, "gfx1100")}), img));
    EXPECT_EQ(f["HIP-NO-CODE-OBJECT"].severity, Severity::warn);
}

TEST(RocmRules, ManyFailingFilesAreSummed) {
    RocmImageFacts img;
    for (int i = 0; i < 14; ++i)
        img.hip.push_back(code(("/usr/lib/lib" + std::to_string(i) + ".so").c_str(), {"gfx908"}));
    auto all = check_hip_code(host("", {gpu(0, "gfx942:sramecc+")}), img);
    EXPECT_EQ(all.size(), 11u);
    EXPECT_NE(all.back().message.find("and 4 more files"), std::string::npos);
}

TEST(RocmRules, DamagedBundleWarns) {
    RocmImageFacts img;
    HipCodeFile bad;
    bad.path = "/usr/lib/libbad.so";
    bad.error = "libbad.so: entry 1 lies outside the bundle";
    img.hip.push_back(bad);
    auto f = by_id(check_hip_code(host("", {gpu(0, "gfx90a")}), img));
    EXPECT_EQ(f["HIP-FATBIN-DAMAGED"].severity, Severity::warn);
    EXPECT_FALSE(f.count("HIP-NO-CODE-OBJECT")); // no verdict from unreadable bytes
    EXPECT_FALSE(f.count("HIP-CODE-OBJECTS"));
}

TEST(RocmRules, HsaOverrideOnANativelySupportedGpuIsHarmful) {
    RocmImageFacts img;
    img.hip.push_back(code("/usr/lib/libk.so", {"gfx1030", "gfx1100"}));
    img.hsa_override = "10.3.0";
    auto f = by_id(check_hip_code(host("", {gpu(0, "gfx1100")}), img));
    ASSERT_TRUE(f.count("HSA-OVERRIDE-NATIVE"));
    EXPECT_EQ(f["HSA-OVERRIDE-NATIVE"].severity, Severity::warn);
    EXPECT_NE(f["HSA-OVERRIDE-NATIVE"].message.find("gfx1030"), std::string::npos);
    EXPECT_FALSE(f.count("HSA-OVERRIDE-NO-CODE"));
    // near miss: the image has only gfx1030 code, so the override is what makes it run
    img.hip[0] = code("/usr/lib/libk.so", {"gfx1030"});
    f = by_id(check_hip_code(host("", {gpu(0, "gfx1100")}), img));
    EXPECT_FALSE(f.count("HSA-OVERRIDE-NATIVE"));
    EXPECT_FALSE(f.count("HSA-OVERRIDE-NO-CODE"));
    EXPECT_EQ(f["HIP-CODE-OBJECTS"].severity, Severity::pass);
    EXPECT_NE(f["HIP-CODE-OBJECTS"].message.find("gfx1030"), std::string::npos);
}

TEST(RocmRules, HsaOverrideToAnIsaWithoutCode) {
    RocmImageFacts img;
    img.hip.push_back(code("/usr/lib/libk.so", {"gfx90a:xnack-"}));
    img.hsa_override = "10.3.0";
    auto f = by_id(check_hip_code(host("", {gpu(0, "gfx1100")}), img));
    ASSERT_TRUE(f.count("HSA-OVERRIDE-NO-CODE"));
    EXPECT_EQ(f["HSA-OVERRIDE-NO-CODE"].severity, Severity::fail);
    EXPECT_NE(f["HSA-OVERRIDE-NO-CODE"].message.find("HSA_OVERRIDE_GFX_VERSION=10.3.0"),
              std::string::npos);
    EXPECT_NE(f["HSA-OVERRIDE-NO-CODE"].fix.find("gfx90a:xnack-"), std::string::npos);
    EXPECT_FALSE(f.count("HIP-NO-CODE-OBJECT")); // one verdict, under the override's ID
    // an invalid value is ignored by libhsakmt: a warning, and the native target is checked
    img.hsa_override = "gfx1030";
    f = by_id(check_hip_code(host("", {gpu(0, "gfx1100")}), img));
    EXPECT_EQ(f["HSA-OVERRIDE-INVALID"].severity, Severity::warn);
    EXPECT_TRUE(f.count("HIP-NO-CODE-OBJECT"));
    // without HIP code objects the override is only reported
    img.hip.clear();
    img.hsa_override = "11.0.0";
    f = by_id(check_hip_code(host("", {gpu(0, "gfx1101")}), img));
    EXPECT_EQ(f["HSA-OVERRIDE"].severity, Severity::info);
}

TEST(RocmRules, PytorchRocmArchMustListTheGpu) {
    RocmImageFacts img;
    img.pytorch_rocm_arch = "gfx90a;gfx942";
    auto f = by_id(check_hip_code(host("", {gpu(0, "gfx1100")}), img));
    EXPECT_EQ(f["ROCM-ARCH-LIST"].severity, Severity::warn);
    f = by_id(check_hip_code(host("", {gpu(0, "gfx942:sramecc+")}), img));
    EXPECT_FALSE(f.count("ROCM-ARCH-LIST"));
    img.pytorch_rocm_arch = "gfx11-generic";
    f = by_id(check_hip_code(host("", {gpu(0, "gfx1101")}), img));
    EXPECT_FALSE(f.count("ROCM-ARCH-LIST"));
}

TEST(RocmRules, TorchBuilds) {
    const std::string py = "usr/lib/python3/dist-packages/torch/version.py";
    auto torch = [&](const char* version, const char* cuda, const char* hip) {
        RocmImageFacts img = rocm_image("6.1.2");
        add_rocm_file_facts(img, py,
                            std::string("__version__ = '") + version + "'\ncuda: Optional[str] = " +
                                cuda + "\nhip: Optional[str] = " + hip + "\n");
        return by_id(check_torch_rocm(host("", {gpu(0, "gfx942")}), img));
    };
    auto f = torch("2.4.0+cpu", "None", "None");
    EXPECT_EQ(f["ROCM-TORCH-CPU-ONLY"].severity, Severity::warn);
    EXPECT_NE(f["ROCM-TORCH-CPU-ONLY"].message.find("2.4.0+cpu"), std::string::npos);
    f = torch("2.4.0+cu121", "'12.1'", "None");
    EXPECT_EQ(f["ROCM-TORCH-CUDA"].severity, Severity::fail);
    f = torch("2.4.0+rocm6.1", "None", "'6.1.40091-a8dbc0c19'"); // near miss
    EXPECT_FALSE(f.count("ROCM-TORCH-CPU-ONLY") || f.count("ROCM-TORCH-CUDA"));
    EXPECT_EQ(f["ROCM-TORCH"].severity, Severity::info);
    // a CPU-only torch in an image without ROCm: not this rule's business
    RocmImageFacts plain;
    add_rocm_file_facts(plain, py, "__version__ = '2.4.0+cpu'\n");
    EXPECT_TRUE(check_torch_rocm(host("", {gpu(0, "gfx942")}), plain).empty());
}

TEST(RocmRules, CudaImageOnAnAmdHost) {
    RocmImageFacts img;
    add_rocm_env_facts(img, {"CUDA_VERSION=12.4.1"});
    auto h = host("", {gpu(0, "gfx942")});
    auto f = by_id(check_torch_rocm(h, img));
    EXPECT_EQ(f["AMD-CUDA-IMAGE"].severity, Severity::fail);
    EXPECT_NE(f["AMD-CUDA-IMAGE"].message.find("CUDA 12.4.1 (env CUDA_VERSION)"),
              std::string::npos);
    h.nvidia_driver = true; // a host with both vendors: the other backend fits
    f = by_id(check_torch_rocm(h, img));
    EXPECT_EQ(f["AMD-CUDA-IMAGE"].severity, Severity::warn);
    EXPECT_NE(f["AMD-CUDA-IMAGE"].fix.find("--gpu-vendor nvidia"), std::string::npos);
    // near miss: a ROCm image that happens to set CUDA_VERSION is not a CUDA image
    img.rocm.push_back({"6.1", "/opt/rocm-6.1.2", 0});
    EXPECT_FALSE(by_id(check_torch_rocm(h, img)).count("AMD-CUDA-IMAGE"));
}

} // namespace amd_rocm_rules_test
