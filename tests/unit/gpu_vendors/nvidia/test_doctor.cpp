// gantry doctor: the image-fact parsers (wheel METADATA, headers, file names, dpkg status, ELF
// symbol versions) and the rules built on them (cuDNN/NCCL/TensorRT vs the image's CUDA, torch's
// pins and CUDA runtime, glibc of the image vs the injected driver libraries, persistence mode).
#include "elf/dynamic.hpp"
#include "gpu_vendors/nvidia/cuda_version.hpp"
#include "gpu_vendors/nvidia/doctor_rules.hpp"
#include "gpu_vendors/nvidia/forward_compat.hpp"
#include "image_facts/image_facts.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <set>
#include <unistd.h>

namespace compat_doctor_test {

using namespace gantry;
using namespace gantry::image_facts;
using namespace gantry::findings;
using namespace gantry::gpu_vendors::nvidia;

namespace {

std::vector<const Finding*> with_id(const std::vector<Finding>& f, const std::string& id) {
    std::vector<const Finding*> out;
    for (auto& x : f)
        if (x.id == id) out.push_back(&x);
    return out;
}

gpu_vendors::nvidia::Host host_with(const std::string& driver, int cc_major, int cc_minor) {
    gpu_vendors::nvidia::Host h;
    h.driver_version = driver;
    h.cuda_version = max_cuda_for_driver(*DriverVersion::parse(driver));
    gpu_vendors::nvidia::Device d;
    d.index = 0;
    d.name = "NVIDIA A100-SXM4-80GB";
    d.brand = "Tesla";
    d.cc_major = cc_major;
    d.cc_minor = cc_minor;
    d.uuid = "GPU-0";
    h.devices.push_back(d);
    return h;
}

struct Scenario {
    gpu_vendors::nvidia::Host host;
    gpu_vendors::nvidia::GpuRequest req;
    gpu_vendors::nvidia::Selection sel;
    explicit Scenario(const std::string& driver) : host(host_with(driver, 8, 0)) {
        req = gpu_vendors::nvidia::parse_request({"NVIDIA_VISIBLE_DEVICES=all"}, std::nullopt);
        sel = gpu_vendors::nvidia::select(host, req);
    }
    std::vector<Finding> run(ImageFacts img) {
        img.ref = "img:1";
        img.env.push_back("NVIDIA_VISIBLE_DEVICES=all");
        add_env_facts(img);
        return check_image(host, img, req, sel);
    }
};

const char* kTorchMetadata = "Metadata-Version: 2.1\n"
                             "Name: torch\n"
                             "Version: 2.4.0+cu121\n"
                             "Requires-Dist: filelock\n"
                             "Requires-Dist: nvidia-cuda-runtime-cu12==12.1.105; "
                             "platform_system == \"Linux\" and platform_machine == \"x86_64\"\n"
                             "Requires-Dist: nvidia-cudnn-cu12 ==9.1.0.70 ; "
                             "platform_system == \"Linux\"\n"
                             "Requires-Dist: nvidia-nccl-cu12>=2.20.5\n"
                             "Requires-Dist: sympy[dev]==1.12\n"
                             "\n"
                             "Version: 9.9.9\n"; // body, not a header

std::string metadata(const std::string& name, const std::string& version) {
    return "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n\nbody\n";
}

std::string site(const std::string& dist) {
    return "usr/local/lib/python3.12/dist-packages/" + dist + "/METADATA";
}

} // namespace

TEST(CompatDoctorFacts, PipMetadata) {
    auto p = parse_pip_metadata(kTorchMetadata, "/x/METADATA");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->name, "torch");
    EXPECT_EQ(p->version, "2.4.0+cu121");
    ASSERT_EQ(p->pins.size(), 3u); // >= is not a pin; the extra [dev] is dropped
    EXPECT_EQ(p->pins[0],
              (std::pair<std::string, std::string>{"nvidia-cuda-runtime-cu12", "12.1.105"}));
    EXPECT_EQ(p->pins[1].first, "nvidia-cudnn-cu12");
    EXPECT_EQ(p->pins[1].second, "9.1.0.70");
    EXPECT_EQ(p->pins[2].first, "sympy");
    EXPECT_EQ(normalize_pip_name("NVIDIA_cudnn.CU12"), "nvidia-cudnn-cu12");
    EXPECT_EQ(normalize_pip_name("tensorrt__cu12--libs"), "tensorrt-cu12-libs");
    EXPECT_FALSE(parse_pip_metadata("Name: x\n", "m"));
    EXPECT_FALSE(parse_pip_metadata("Version: 1.0\n", "m"));
    EXPECT_FALSE(parse_pip_metadata("Name: x\nVersion: 1.0 ; rm -rf\n", "m"));
    auto crlf = parse_pip_metadata("Name: nvidia-nccl-cu12\r\nVersion: 2.21.5\r\n", "m");
    ASSERT_TRUE(crlf);
    EXPECT_EQ(crlf->version, "2.21.5");
}

TEST(CompatDoctorFacts, Headers) {
    std::string cudnn = "#ifndef CUDNN_VERSION_H_\n#define CUDNN_MAJOR 9\n#define CUDNN_MINOR 1\n"
                        "#define CUDNN_PATCHLEVEL 0  /* patch */\n"
                        "#define CUDNN_VERSION (CUDNN_MAJOR * 10000 + CUDNN_MINOR * 100)\n";
    EXPECT_EQ(parse_cudnn_version_h(cudnn).value_or(""), "9.1.0");
    EXPECT_FALSE(parse_cudnn_version_h("#define CUDNN_MAJOR 9\n#define CUDNN_MINOR x\n"));
    EXPECT_EQ(parse_nccl_h("#define NCCL_MAJOR 2\n#define NCCL_MINOR 21\n# define NCCL_PATCH 5\n")
                  .value_or(""),
              "2.21.5");
    EXPECT_EQ(parse_tensorrt_version_h("#define NV_TENSORRT_MAJOR 10 //!< major\n"
                                       "#define NV_TENSORRT_MINOR 13\n"
                                       "#define NV_TENSORRT_PATCH 2\n#define NV_TENSORRT_BUILD 6\n")
                  .value_or(""),
              "10.13.2");
    EXPECT_EQ(parse_tensorrt_version_h("#define NV_TENSORRT_SONAME_MAJOR 8\n"
                                       "#define NV_TENSORRT_SONAME_MINOR 6\n"
                                       "#define NV_TENSORRT_SONAME_PATCH 1\n")
                  .value_or(""),
              "8.6.1");
    // a longer name with the same prefix is not the define
    EXPECT_FALSE(header_define("#define NCCL_MAJORITY 3\n", "NCCL_MAJOR"));
}

// torch/version.py: image_facts reads the assignments (no vendor in it), NVIDIA's parser the
// CUDA release among them
TEST(CompatDoctorFacts, TorchVersionPy) {
    const std::string py = "__version__ = '2.4.0+cu121'\ndebug = False\n"
                           "hip: Optional[str] = None\ncuda: Optional[str] = '12.1'\n";
    EXPECT_EQ(python_assignment(py, "__version__").value_or("?"), "2.4.0+cu121");
    EXPECT_EQ(python_assignment(py, "hip").value_or("?"), ""); // None
    EXPECT_FALSE(python_assignment(py, "git_version"));
    auto t = parse_torch_version(py);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->version, "2.4.0+cu121");
    EXPECT_EQ(t->cuda, "12.1");
    EXPECT_EQ(parse_torch_version("__version__ = '2.4.0+cpu'\ncuda = None\n")->cuda, "");
    EXPECT_FALSE(parse_torch_version("cuda = '12.1'\n")); // no __version__
    EXPECT_EQ(header_version("#define A_MAJOR 1\n#define A_MINOR 2\n#define A_PATCH 3\n", "A_MAJOR",
                             "A_MINOR", "A_PATCH")
                  .value_or(""),
              "1.2.3");
}

TEST(CompatDoctorFacts, FileNamesTagsAndDpkg) {
    EXPECT_EQ(file_name_version("libcudnn.so.9.1.0", "libcudnn.so.", 3).value_or(""), "9.1.0");
    EXPECT_FALSE(file_name_version("libcudnn.so.9", "libcudnn.so.", 3));
    EXPECT_FALSE(file_name_version("libcudnn.so.9..1", "libcudnn.so."));
    EXPECT_FALSE(file_name_version("libcudnn.so.9.1.0.bak", "libcudnn.so."));
    EXPECT_EQ(cuda_tag_major("nvidia-cudnn-cu12"), 12);
    EXPECT_EQ(cuda_tag_major("nvidia-cublas-cu11"), 11);
    EXPECT_EQ(cuda_tag_major("tensorrt-cu13-libs"), 13);
    EXPECT_EQ(cuda_tag_major("10.13.2.6-1+cuda13.0"), 13);
    EXPECT_EQ(cuda_tag_major("libcudnn9-cuda-12"), 12);
    EXPECT_EQ(cuda_tag_major("2.4.0+cu121"), 12);
    EXPECT_EQ(cuda_tag_major("nvidia-cuda-runtime"), 0);
    EXPECT_EQ(cuda_tag_major("cupy"), 0);
    std::string status = "Package: libc6-dev\nStatus: install ok installed\nVersion: 2.99-1\n\n"
                         "Package: libc6\nStatus: deinstall ok config-files\nVersion: 2.20-1\n\n"
                         "Package: libc6:amd64\nStatus: install ok installed\n"
                         "Description: GNU C Library\n continued\nVersion: 2.31-0ubuntu9.16\n";
    EXPECT_EQ(dpkg_package_version(status, "libc6").value_or(""), "2.31-0ubuntu9.16");
    EXPECT_FALSE(dpkg_package_version(status, "libc7"));
    EXPECT_EQ(major_minor("2.31-0ubuntu9.16"), (std::pair<int, int>{2, 31}));
    EXPECT_FALSE(major_minor("2"));
    EXPECT_EQ(
        elf::max_glibc_version({"libc.so.6:GLIBC_2.2.5", "libc.so.6:GLIBC_2.34",
                                "libm.so.6:GLIBC_2.29", "GLIBC_PRIVATE", "libx.so:XGLIBC_9.9"}),
        (std::pair<int, int>{2, 34}));
}

TEST(CompatDoctorFacts, FilesOfAnImage) {
    ImageFacts img;
    add_file_facts(img, "usr/lib/x86_64-linux-gnu/libcudnn.so.9.1.0", "");
    add_file_facts(img, "usr/local/cuda-12.4/targets/x86_64-linux/lib/libcudart.so.12.4.127", "");
    add_file_facts(img, "usr/lib/x86_64-linux-gnu/libnvinfer.so.10.13.2", "");
    EXPECT_TRUE(wants_contents(site("nvidia_nccl_cu12-2.21.5.dist-info")));
    EXPECT_FALSE(wants_contents(site("requests-2.0.dist-info")));
    EXPECT_TRUE(wants_contents("usr/include/cudnn_version.h"));
    EXPECT_TRUE(wants_contents("var/lib/dpkg/status"));
    add_file_facts(img, site("nvidia_nccl_cu12-2.21.5.dist-info"),
                   metadata("nvidia-nccl-cu12", "2.21.5"));
    add_file_facts(img, site("nvidia_cuda_runtime_cu13-0.0.1.dist-info"),
                   metadata("nvidia-cuda-runtime-cu13", "0.0.1")); // placeholder: no CUDA 0.0
    ASSERT_EQ(img.cudnn.size(), 1u);
    EXPECT_EQ(img.cudnn[0].version, "9.1.0");
    ASSERT_EQ(img.cuda.size(), 1u);
    EXPECT_EQ(img.cuda[0].version, "12.4");
    ASSERT_EQ(img.tensorrt.size(), 1u);
    ASSERT_EQ(img.nccl.size(), 1u);
    EXPECT_EQ(img.nccl[0].built_for_major, 12);
    EXPECT_EQ(img.nccl[0].source, "pip nvidia-nccl-cu12 2.21.5");
    EXPECT_EQ(img.pip.size(), 2u);
    // CUDA from the runtime file when the config says nothing
    EXPECT_EQ(image_cuda_version(img).value_or(""), "12.4");
    img.env = {"CUDA_VERSION=12.4.1"};
    auto all = image_cuda_versions(img);
    ASSERT_EQ(all.size(), 1u); // 12.4 once, from the env first
    EXPECT_EQ(all[0].source, "CUDA_VERSION=12.4.1");
}

TEST(CompatDoctorRules, CudaFromWheelsChecksTheDriver) {
    Scenario s("525.147.05"); // serves 12.0
    ImageFacts img;
    add_file_facts(img, site("nvidia_cuda_runtime-13.0.96.dist-info"),
                   metadata("nvidia-cuda-runtime", "13.0.96"));
    auto f = s.run(img);
    auto too_old = with_id(f, "CUDA-DRIVER-TOO-OLD");
    ASSERT_EQ(too_old.size(), 1u);
    EXPECT_NE(too_old[0]->message.find("pip nvidia-cuda-runtime 13.0.96"), std::string::npos);
    EXPECT_NE(too_old[0]->fix.find("580.65.06"), std::string::npos);
    // near miss: a 12.0 runtime on the same driver
    ImageFacts ok;
    add_file_facts(ok, site("nvidia_cuda_runtime_cu12-12.0.107.dist-info"),
                   metadata("nvidia-cuda-runtime-cu12", "12.0.107"));
    f = s.run(ok);
    EXPECT_TRUE(with_id(f, "CUDA-DRIVER-TOO-OLD").empty());
    EXPECT_EQ(with_id(f, "CUDA-DRIVER").size(), 1u);
}

TEST(CompatDoctorRules, LibrariesBuiltForAnotherCuda) {
    Scenario s("580.95.05");
    ImageFacts img;
    img.env = {"CUDA_VERSION=13.0.1"};
    add_file_facts(img, site("nvidia_cudnn_cu12-9.1.0.70.dist-info"),
                   metadata("nvidia-cudnn-cu12", "9.1.0.70"));
    auto f = s.run(img);
    auto m = with_id(f, "LIB-CUDA-MISMATCH");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_NE(m[0]->message.find("cuDNN 9.1.0.70"), std::string::npos);
    EXPECT_NE(m[0]->message.find("CUDA 12"), std::string::npos);
    EXPECT_NE(m[0]->fix.find("nvidia-cudnn-cu13"), std::string::npos);
    // TensorRT from the NVIDIA image env, built for CUDA 12 in a CUDA 13 image
    ImageFacts trt;
    trt.env = {"CUDA_VERSION=13.0.1", "NV_TENSORRT_VERSION=10.13.2.6-1+cuda12.9"};
    auto ft = s.run(trt);
    m = with_id(ft, "LIB-CUDA-MISMATCH");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_NE(m[0]->message.find("TensorRT 10.13.2.6"), std::string::npos);
    // near miss: the cu13 builds
    ImageFacts good;
    good.env = {"CUDA_VERSION=13.0.1", "NV_TENSORRT_VERSION=10.13.2.6-1+cuda13.0"};
    add_file_facts(good, site("nvidia_cudnn_cu13-9.13.0.50.dist-info"),
                   metadata("nvidia-cudnn-cu13", "9.13.0.50"));
    f = s.run(good);
    EXPECT_TRUE(with_id(f, "LIB-CUDA-MISMATCH").empty());
    auto comp = with_id(f, "IMAGE-COMPONENTS");
    ASSERT_EQ(comp.size(), 1u);
    EXPECT_NE(comp[0]->message.find("cuDNN 9.13.0.50"), std::string::npos);
    EXPECT_NE(comp[0]->message.find("TensorRT 10.13.2.6"), std::string::npos);
}

TEST(CompatDoctorRules, TorchPinsAndRuntime) {
    Scenario s("580.95.05");
    ImageFacts img;
    add_file_facts(img, "usr/local/lib/python3.12/dist-packages/torch/version.py",
                   "__version__ = '2.4.0+cu121'\ncuda: Optional[str] = '12.1'\n");
    add_file_facts(img, site("torch-2.4.0+cu121.dist-info"), kTorchMetadata);
    add_file_facts(img, site("nvidia_cudnn_cu12-8.9.2.26.dist-info"),
                   metadata("nvidia-cudnn-cu12", "8.9.2.26"));
    add_file_facts(img, site("nvidia_nccl_cu12-2.20.5.dist-info"),
                   metadata("nvidia-nccl-cu12", "2.20.5"));
    add_file_facts(img, site("nvidia_cuda_runtime_cu12-12.0.107.dist-info"),
                   metadata("nvidia-cuda-runtime-cu12", "12.0.107"));
    auto f = s.run(img);
    // cuDNN and NCCL come from wheels: not missing
    EXPECT_TRUE(with_id(f, "CUDNN-MISSING").empty());
    EXPECT_TRUE(with_id(f, "NCCL-MISSING").empty());
    auto pins = with_id(f, "TORCH-WHEEL-MISMATCH");
    ASSERT_EQ(pins.size(), 2u); // cudnn 8.9 vs 9.1.0.70, cuda-runtime 12.0 vs 12.1.105
    EXPECT_NE(pins[0]->message.find("nvidia-cuda-runtime-cu12==12.1.105"), std::string::npos);
    EXPECT_NE(pins[1]->message.find("nvidia-cudnn-cu12==9.1.0.70"), std::string::npos);
    EXPECT_NE(pins[1]->message.find("8.9.2.26"), std::string::npos);
    EXPECT_EQ(pins[1]->fix.rfind("pip install nvidia-cudnn-cu12==9.1.0.70", 0), 0u);
    auto rt = with_id(f, "TORCH-CUDA-MISMATCH");
    ASSERT_EQ(rt.size(), 1u); // runtime 12.0 is older than torch's 12.1
    EXPECT_NE(rt[0]->message.find("older CUDA 12 runtime"), std::string::npos);
    EXPECT_NE(rt[0]->message.find("pip nvidia-cuda-runtime-cu12 12.0.107"), std::string::npos);
}

// The first real GPU host: an image staged from a program's ldd output (glibc 2.36, no
// libpthread.so.0) could not load libcuda; doctor said nothing. A musl image with GPU code can
// never load it.
TEST(CompatDoctorRules, DriverLibrariesNeedWhatTheImageLacks) {
    std::vector<DriverLibNeeds> needs = {
        {"/drv/libcuda.so.580.159.04",
         {"libm.so.6", "libc.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1"}},
        {"/drv/libnvidia-ml.so.580.159.04", {"libc.so.6", "libpthread.so.0"}},
        {"/drv/libnvidia-ptxjitcompiler.so.580.159.04", {"libcuda.so.1", "libc.so.6"}}};
    std::set<std::string> staged = {"libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2"};
    std::set<std::string> injected = {"libcuda.so.1", "libcuda.so.580.159.04"};
    auto f = check_driver_needs("staged:1", staged, injected, needs, true);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].id, "DRIVER-LIB-NEEDS-MISSING");
    EXPECT_EQ(f[0].severity, Severity::warn); // device nodes alone still work: a warning
    EXPECT_NE(f[0].message.find("libdl.so.2, libpthread.so.0, librt.so.1"), std::string::npos)
        << f[0].message;
    EXPECT_NE(f[0].message.find("/drv/libcuda.so.580.159.04 needs libdl.so.2"), std::string::npos)
        << f[0].message;
    EXPECT_EQ(f[0].message.find("libcuda.so.1,"), std::string::npos) << "injected: not missing";
    EXPECT_NE(f[0].fix.find("libc6"), std::string::npos);
    // near miss: what Debian's libc6 ships, the compat stubs included
    staged.insert({"libdl.so.2", "libpthread.so.0", "librt.so.1"});
    EXPECT_TRUE(check_driver_needs("staged:1", staged, injected, needs, true).empty());
    // no glibc at all: a warning only when the image has GPU code
    auto musl = check_driver_needs("alpine:1", {"ld-musl-x86_64.so.1", "libc.musl-x86_64.so.1"},
                                   injected, needs, true);
    ASSERT_EQ(musl.size(), 1u);
    EXPECT_EQ(musl[0].id, "DRIVER-NO-GLIBC");
    EXPECT_NE(musl[0].fix.find("Alpine"), std::string::npos);
    EXPECT_TRUE(check_driver_needs("busybox:1", {}, injected, needs, false).empty());
    EXPECT_TRUE(check_driver_needs("staged:1", {}, injected, {}, true).empty());
}

TEST(CompatDoctorRules, GlibcOfTheImage) {
    ImageFacts img;
    img.ref = "old:1";
    img.glibc = "2.31";
    img.glibc_source = "/lib/x86_64-linux-gnu/libc.so.6";
    img.glibc_defs = {"GLIBC_2.2.5", "GLIBC_2.30", "GLIBC_2.31"};
    std::vector<GlibcNeed> needs = {{"/drv/libcuda.so.1", {2, 34}},
                                    {"/drv/libnvidia-ml.so.1", {2, 17}}};
    auto f = check_glibc(img, needs);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].id, "GLIBC-TOO-OLD");
    EXPECT_EQ(f[0].severity, Severity::fail);
    EXPECT_NE(f[0].message.find("/drv/libcuda.so.1"), std::string::npos);
    EXPECT_NE(f[0].message.find("GLIBC_2.34"), std::string::npos);
    EXPECT_NE(f[0].message.find("glibc 2.31"), std::string::npos);
    EXPECT_NE(f[0].fix.find("2.34 or newer"), std::string::npos);
    // near misses: an image whose libc has the version, and one without glibc at all
    img.glibc = "2.34";
    img.glibc_defs.push_back("GLIBC_2.34");
    EXPECT_TRUE(check_glibc(img, needs).empty());
    img.glibc.clear();
    EXPECT_TRUE(check_glibc(img, needs).empty());
    // from dpkg (no definitions known): the version decides
    img.glibc = "2.35";
    img.glibc_defs.clear();
    EXPECT_TRUE(check_glibc(img, needs).empty());
    img.glibc = "2.28";
    EXPECT_EQ(check_glibc(img, needs).size(), 1u);
}

TEST(CompatDoctorRules, Persistence) {
    auto h = host_with("580.95.05", 9, 0);
    h.devices[0].persistence = 0;
    auto f = check_persistence(h);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].id, "HOST-PERSISTENCE-OFF");
    EXPECT_NE(f[0].fix.find("nvidia-persistenced"), std::string::npos);
    h.devices[0].persistence = 1;
    EXPECT_TRUE(check_persistence(h).empty());
    h.devices[0].persistence = -1; // unknown (no NVML): says nothing
    EXPECT_TRUE(check_persistence(h).empty());
}

TEST(CompatDoctorElf, SymbolVersions) {
    char tmpl[] = "/tmp/gantry-elfver-XXXXXX";
    ASSERT_TRUE(::mkdtemp(tmpl));
    std::string dir = tmpl;
    std::ofstream(dir + "/c.c") << "int a1(void) { return 1; }\nint a2(void) { return 2; }\n";
    std::ofstream(dir + "/v.map") << "GLIBC_2.17 { global: a1; local: *; };\n"
                                     "GLIBC_2.28 { global: a2; } GLIBC_2.17;\n";
    std::ofstream(dir + "/u.c") << "#include <pthread.h>\nstatic void* f(void* p) { return p; }\n"
                                   "int go(void) { pthread_t t; return pthread_create(&t, 0, f, "
                                   "0); }\n";
    std::string cmd = "cd " + dir +
                      " && cc -shared -fPIC -nostdlib -Wl,-soname,libc.so.6 "
                      "-Wl,--version-script,v.map -o libc.so.6 c.c && "
                      "cc -shared -fPIC -o libuser.so u.c -pthread";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    auto libc = elf::read_file(dir + "/libc.so.6", true);
    EXPECT_EQ(libc.version_defs, (std::vector<std::string>{"GLIBC_2.17", "GLIBC_2.28"}));
    EXPECT_EQ(elf::max_glibc_version(libc.version_defs), (std::pair<int, int>{2, 28}));
    // without asking, nothing is read
    EXPECT_TRUE(elf::read_file(dir + "/libc.so.6").version_defs.empty());
    auto user = elf::read_file(dir + "/libuser.so", true);
    ASSERT_FALSE(user.version_needs.empty());
    EXPECT_EQ(user.version_needs[0].rfind("libc.so.6:GLIBC_", 0), 0u);
    EXPECT_GE(elf::max_glibc_version(user.version_needs), (std::pair<int, int>{2, 2}));
    std::filesystem::remove_all(dir);
}

TEST(CompatDoctorRules, ForwardCompatRescuesOnlyWhatTheCompatDriverServes) {
    auto too_old = [](const char* id, int cuda) {
        return Finding{id, Severity::fail, "CUDA " + cuda_string(cuda) + " needs a newer driver",
                       "upgrade", cuda};
    };
    std::vector<Finding> f = {too_old("CUDA-DRIVER-TOO-OLD", 13000),
                              too_old("TORCH-CUDA-TOO-NEW", 13000),
                              too_old("CUDA-DRIVER-TOO-OLD", 13010), // newer than it serves
                              {"CUDA-DRIVER-TOO-OLD", Severity::fail, "no version", "upgrade"}};
    apply_forward_compat(f, "/usr/local/cuda/compat/libcuda.so.580.65.06", "580.65.06",
                         R"({"CUDA Version": "13.0"})");
    EXPECT_EQ(f[0].id, "CUDA-FORWARD-COMPAT");
    EXPECT_EQ(f[0].severity, Severity::warn);
    EXPECT_NE(f[0].message.find("/usr/local/cuda/compat/libcuda.so.580.65.06"), std::string::npos);
    EXPECT_EQ(f[1].id, "TORCH-FORWARD-COMPAT");
    EXPECT_EQ(f[2].id, "CUDA-DRIVER-TOO-OLD");
    EXPECT_EQ(f[2].severity, Severity::fail);
    EXPECT_EQ(f[3].id, "CUDA-DRIVER-TOO-OLD"); // no version to compare: left as it is
    // without a note, the compat driver's branch decides (R580 serves CUDA 13.0)
    std::vector<Finding> g = {too_old("CUDA-DRIVER-TOO-OLD", 13000)};
    apply_forward_compat(g, "/c/libcuda.so.580.65.06", "580.65.06", "");
    EXPECT_EQ(g[0].id, "CUDA-FORWARD-COMPAT");
    std::vector<Finding> h = {too_old("CUDA-DRIVER-TOO-OLD", 13000)};
    apply_forward_compat(h, "/c/libcuda.so.570.86.10", "570.86.10", "");
    EXPECT_EQ(h[0].id, "CUDA-DRIVER-TOO-OLD");
}

} // namespace compat_doctor_test
