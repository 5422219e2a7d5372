// gantry lint's ROCm side: each rule that knows CUDA fires on its AMD case (exact line) and stays
// silent on a near miss; GL017 (GPU target lists that disagree); hostile version numbers in tags
// and pins never throw out of lint.
#include "dockerfile/dockerfile.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "lint/lint.hpp"
#include "lint/model.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace lint_rules_rocm_test {

using namespace gantry::lint;
using gantry::dockerfile::parse_dockerfile;

namespace {

std::vector<Finding> run(const std::string& text, const Options& opt = {}) {
    Options with_vendors = opt; // lint's rules and every registered GPU vendor's
    with_vendors.rule_sets = gantry::gpu_vendors::lint_rule_sets();
    return lint(parse_dockerfile(text), with_vendors);
}

std::vector<int> lines(const std::string& text, const std::string& code, const Options& opt = {}) {
    std::vector<int> r;
    for (auto& f : run(text, opt))
        if (f.id == code) r.push_back(f.at.line);
    return r;
}

const Finding* first(const std::vector<Finding>& fs, const std::string& code) {
    for (auto& f : fs)
        if (f.id == code) return &f;
    return nullptr;
}
// A pointer into findings destroyed at the end of the statement: refused at compile time.
const Finding* first(std::vector<Finding>&& fs, const std::string& code) = delete;

bool has(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

using L = std::vector<int>;

} // namespace

TEST(LintRocm, GL001RocmDevelopmentBaseShipped) {
    for (const char* base : {"rocm/dev-ubuntu-22.04:6.1", "rocm/dev-ubuntu-22.04:6.1.2-complete",
                             "rocm/dev-almalinux-8:6.2-complete", "rocm/rocm-terminal:5.3",
                             "docker.io/rocm/dev-ubuntu-24.04:latest",
                             "mycorp/rocm-base:6.1-complete", "rocm/pytorch:rocm6.1-devel"}) {
        SCOPED_TRACE(base);
        EXPECT_EQ(lines(std::string("FROM ") + base + "\nRUN make\n", "GL001"), L{1});
    }
    auto fs = run("FROM rocm/dev-ubuntu-22.04:6.1-complete\n");
    auto* f = first(fs, "GL001");
    ASSERT_TRUE(f);
    EXPECT_TRUE(has(f->message, "ROCm development image")) << f->message;
    EXPECT_FALSE(has(f->message, "CUDA")) << f->message;
    EXPECT_TRUE(has(f->fix, "FROM ubuntu:22.04")) << f->fix;
    EXPECT_TRUE(has(f->fix, "rocm-hip-runtime")) << f->fix;
    // through a stage reference
    EXPECT_EQ(lines("FROM rocm/dev-ubuntu-22.04:6.1 AS base\nFROM base\n", "GL001"), L{1});
    // near misses: the dev image only in the builder; a ROCm image without a variant; a plain
    // OS image; "complete" in a non-ROCm repository
    EXPECT_EQ(lines("FROM rocm/dev-ubuntu-22.04:6.1-complete AS build\nRUN make\n"
                    "FROM ubuntu:22.04\nCOPY --from=build /app /app\n",
                    "GL001"),
              L{});
    EXPECT_EQ(lines("FROM rocm/pytorch:rocm6.1_ubuntu22.04_py3.10_pytorch_2.1.2\n", "GL001"), L{});
    EXPECT_EQ(lines("FROM mycorp/tools:1.0-complete\n", "GL001"), L{});
    EXPECT_EQ(lines("FROM rocm/k8s-device-plugin:1.25\n", "GL001"), L{});
}

TEST(LintRocm, GL002RocmToolchainInShippedStage) {
    EXPECT_EQ(lines("FROM ubuntu:22.04\nRUN apt-get install -y --no-install-recommends "
                    "rocm-dev\n",
                    "GL002"),
              L{2});
    EXPECT_EQ(lines("FROM ubuntu:22.04\nRUN apt-get install -y --no-install-recommends "
                    "rocm-hip-sdk6.1.2 hipcc\n",
                    "GL002"),
              L{2});
    EXPECT_EQ(lines("FROM rockylinux:9\nRUN dnf install -y hip-devel\n", "GL002"), L{2});
    auto fs = run("FROM ubuntu:22.04\nRUN amdgpu-install -y --usecase=graphics,rocm --no-dkms\n");
    auto* f = first(fs, "GL002");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->at.line, 2);
    EXPECT_TRUE(has(f->message, "amdgpu-install --usecase=rocm")) << f->message;
    EXPECT_EQ(lines("FROM ubuntu:22.04\nRUN amdgpu-install -y --usecase hiplibsdk\n", "GL002"),
              L{2});
    // the fix of a ROCm image names ROCm's builder
    // (the findings kept: first() points into them, make test-asan found it reading freed ones)
    auto rocm_base = run("FROM rocm/dev-ubuntu-22.04:6.1\nRUN apt-get install -y "
                         "--no-install-recommends hipcc\n");
    f = first(rocm_base, "GL002");
    ASSERT_TRUE(f);
    EXPECT_TRUE(has(f->fix, "rocm/dev-")) << f->fix;
    // near misses: run-time packages and use cases; the SDK only in a builder stage
    EXPECT_EQ(lines("FROM ubuntu:22.04\nRUN apt-get install -y --no-install-recommends "
                    "rocm-hip-runtime rocm-hip-libraries rocminfo\n",
                    "GL002"),
              L{});
    EXPECT_EQ(lines("FROM ubuntu:22.04\nRUN amdgpu-install -y --usecase=hip,lrt,mllib\n", "GL002"),
              L{});
    EXPECT_EQ(lines("FROM ubuntu:22.04\nRUN amdgpu-install -y\n", "GL002"), L{});
    EXPECT_EQ(lines("FROM ubuntu:22.04 AS b\nRUN apt-get install -y --no-install-recommends "
                    "rocm-dev\nFROM ubuntu:22.04\nCOPY --from=b /a /a\n",
                    "GL002"),
              L{});
}

TEST(LintRocm, GL008FrameworkBuildAgainstBaseRocm) {
    const std::string base = "FROM rocm/dev-ubuntu-22.04:6.1.2-complete AS b\n";
    // torch pin, index, wheel URL (also URL-encoded), jaxlib
    EXPECT_EQ(lines(base + "RUN pip install --no-cache-dir torch==2.3.1+rocm6.0\n", "GL008"), L{2});
    EXPECT_EQ(lines(base + "RUN pip install --no-cache-dir torch --index-url "
                           "https://download.pytorch.org/whl/rocm6.2\n",
                    "GL008"),
              L{2});
    EXPECT_EQ(lines(base + "RUN pip install --no-cache-dir https://repo.radeon.com/rocm/"
                           "manylinux/rocm-rel-6.2/torch-2.3.0%2Brocm6.2.3-cp310-cp310-linux_"
                           "x86_64.whl\n",
                    "GL008"),
              L{2});
    EXPECT_EQ(lines(base + "RUN pip install --no-cache-dir https://github.com/ROCm/jax/releases/"
                           "download/rocm-jaxlib-v0.4.30/jaxlib-0.4.30+rocm602-cp310-cp310-"
                           "manylinux2014_x86_64.whl\n",
                    "GL008"),
              L{2});
    auto torch = run(base + "RUN pip install --no-cache-dir torch==2.3.1+rocm6.0\n");
    auto* f = first(torch, "GL008");
    ASSERT_TRUE(f);
    EXPECT_TRUE(has(f->message, "ROCm 6.0") && has(f->message, "ROCm 6.1")) << f->message;
    EXPECT_TRUE(has(f->fix, "whl/rocm6.1")) << f->fix;
    // vendor mismatches and CPU-only builds, both ways; ENV ROCM_VERSION and rocm/pytorch tags
    EXPECT_EQ(lines(base + "RUN pip install --no-cache-dir torch==2.3.1+cu121\n", "GL008"), L{2});
    EXPECT_EQ(lines(base + "RUN pip install --no-cache-dir torch==2.3.1+cpu\n", "GL008"), L{2});
    EXPECT_EQ(lines("FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04\n"
                    "RUN pip install --no-cache-dir torch==2.3.1+rocm6.1\n",
                    "GL008"),
              L{2});
    EXPECT_EQ(lines("FROM ubuntu:22.04\nENV ROCM_VERSION=6.2.4\n"
                    "RUN pip install --no-cache-dir torch==2.5.1+rocm6.1\n",
                    "GL008"),
              L{3});
    EXPECT_EQ(lines("FROM rocm/pytorch:rocm6.1_ubuntu22.04_py3.10_pytorch_2.1.2\n"
                    "RUN pip install --no-cache-dir torchvision==0.18.1+rocm6.0\n",
                    "GL008"),
              L{2});
    // near misses: the matching builds (patch level ignored, jaxlib's compact form); a +rocm
    // wheel on a base whose stack is unknown
    EXPECT_EQ(lines(base + "RUN pip install --no-cache-dir torch==2.4.0+rocm6.1 torchvision "
                           "--index-url https://download.pytorch.org/whl/rocm6.1\n",
                    "GL008"),
              L{});
    EXPECT_EQ(lines(base + "RUN pip install --no-cache-dir jaxlib==0.4.30+rocm611\n", "GL008"),
              L{});
    EXPECT_EQ(
        lines("FROM python:3.11\nRUN pip install --no-cache-dir torch==2.4.0+rocm6.1\n", "GL008"),
        L{});
}

TEST(LintRocm, GL013RocmProbesAndKfdAtBuildTime) {
    EXPECT_EQ(lines("FROM rocm/dev-ubuntu-22.04:6.1 AS b\nRUN rocminfo | grep gfx\n", "GL013"),
              L{2});
    EXPECT_EQ(lines("FROM x:1\nRUN /opt/rocm/bin/rocm-smi && amd-smi list\n", "GL013"),
              (L{2, 2})); // one finding per command
    EXPECT_EQ(lines("FROM x:1\nRUN python3 -c 'open(\"/dev/kfd\")'\n", "GL013"), L{2});
    auto kfd = run("FROM x:1\nRUN --device=/dev/kfd python3 train.py\n");
    auto* f = first(kfd, "GL013");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->at.line, 2);
    EXPECT_TRUE(has(f->message, "CDI device name")) << f->message;
    // near misses: in CMD; a CDI device given to RUN; a udev rule that names kfd
    EXPECT_EQ(lines("FROM x:1\nCMD [\"rocminfo\"]\n", "GL013"), L{});
    EXPECT_EQ(lines("FROM x:1\nRUN --device=amd.com/gpu=all rocminfo\n", "GL013"), L{});
    EXPECT_EQ(
        lines("FROM x:1\nRUN echo 'KERNEL==\"kfd\", MODE=\"0666\"' > /etc/udev/x.rules\n", "GL013"),
        L{});
}

TEST(LintRocm, GL016RocmVisibleDevices) {
    EXPECT_EQ(lines("FROM x:1\nENV HIP_VISIBLE_DEVICES=0\nENV ROCR_VISIBLE_DEVICES=GPU-ab\n"
                    "ENV GPU_DEVICE_ORDINAL=1\n",
                    "GL016"),
              (L{2, 3, 4}));
    // near miss: AMD_VISIBLE_DEVICES is the container toolkit's request, like
    // NVIDIA_VISIBLE_DEVICES; a builder stage
    EXPECT_EQ(lines("FROM x:1\nENV AMD_VISIBLE_DEVICES=all\n", "GL016"), L{});
    EXPECT_EQ(lines("FROM x:1 AS b\nENV HIP_VISIBLE_DEVICES=0\nFROM y:1\n", "GL016"), L{});
}

TEST(LintRocm, GL017TargetListsDisagree) {
    std::string df = "FROM rocm/dev-ubuntu-22.04:6.1 AS build\n"
                     "ARG GPU_TARGETS=\"gfx90a;gfx942\"\n"
                     "ENV PYTORCH_ROCM_ARCH=gfx90a\n"
                     "RUN cmake -DAMDGPU_TARGETS:STRING=gfx942,gfx90a -B b && "
                     "PYTORCH_ROCM_ARCH=gfx1100 python3 setup.py bdist_wheel\n";
    EXPECT_EQ(lines(df, "GL017"), (L{3, 4}));
    auto fs = run(df);
    auto* f = first(fs, "GL017");
    ASSERT_TRUE(f);
    EXPECT_TRUE(has(f->message, "line 2") && has(f->message, "nothing for gfx942")) << f->message;
    // export, and a build arg that makes the lists agree
    EXPECT_EQ(
        lines("FROM x:1\nENV GPU_TARGETS=gfx90a\nRUN export PYTORCH_ROCM_ARCH=gfx942\n", "GL017"),
        L{3});
    Options opt;
    opt.build.build_args["GPU_TARGETS"] = "gfx90a";
    EXPECT_EQ(
        lines("FROM x:1\nARG GPU_TARGETS=gfx942\nENV PYTORCH_ROCM_ARCH=gfx90a\n", "GL017", opt),
        L{});
    // near misses: the same set in another order or separator; a list passed on by variable; an
    // unresolved value
    EXPECT_EQ(lines("FROM x:1\nARG GPU_TARGETS=\"gfx942;gfx90a\"\n"
                    "ENV PYTORCH_ROCM_ARCH=\"gfx90a gfx942\"\n"
                    "RUN cmake -DGPU_TARGETS=${GPU_TARGETS} . && "
                    "PYTORCH_ROCM_ARCH=$GPU_TARGETS python3 setup.py build\n",
                    "GL017"),
              L{});
    EXPECT_EQ(
        lines("FROM x:1\nENV GPU_TARGETS=gfx90a\nRUN cmake -DGPU_TARGETS=$UNSET .\n", "GL017"),
        L{});
}

TEST(LintRocm, MessagesSayRocmOnRocmImages) {
    auto fs = run("FROM rocm/dev-ubuntu-22.04:latest\nRUN pip install torch\n");
    auto* f3 = first(fs, "GL003");
    auto* f7 = first(fs, "GL007");
    ASSERT_TRUE(f3 && f7);
    EXPECT_TRUE(has(f3->message, "ROCm") && !has(f3->message, "CUDA")) << f3->message;
    EXPECT_TRUE(has(f7->message, "ROCm wheels")) << f7->message;
    // near miss: a CUDA (or plain) image keeps saying CUDA
    fs = run("FROM ubuntu\nRUN pip install torch\n");
    EXPECT_TRUE(has(first(fs, "GL003")->message, "CUDA"));
    EXPECT_TRUE(has(first(fs, "GL007")->message, "CUDA wheels"));
}

// Regression: `FROM nvidia/cuda:4294967296.1.0-devel` made lint exit 1 "internal error: stoi".
TEST(LintRocm, HostileVersionNumbersNeverThrow) {
    const std::string huge = "4294967296";
    const std::string longest(500, '9');
    for (const std::string& df :
         {"FROM nvidia/cuda:" + huge + ".1.0-devel\nRUN pip install torch==2.1+cu121\n",
          "FROM nvidia/cuda:12.1.0-runtime\nRUN conda install pytorch-cuda=" + huge +
              ".1 && conda clean -afy\n",
          "FROM x:1\nENV CUDA_VERSION=" + longest + ".1\nRUN pip install torch==2.1+cu121\n",
          "FROM rocm/dev-ubuntu-22.04:" + huge + ".1\nRUN pip install torch==2.1+rocm6.1\n",
          "FROM rocm/pytorch:rocm" + huge + ".1_ubuntu22.04\nRUN pip install torch==2+rocm6.1\n",
          "FROM rocm/dev-ubuntu-22.04:6.1\nRUN pip install torch==2.1+rocm" + huge + ".1\n",
          "FROM pytorch/pytorch:2.3.0-cuda" + huge + ".1-cudnn8-runtime\n",
          "FROM x:1\nENV ROCM_VERSION=" + huge + "." + huge +
              "\nRUN pip install jaxlib==1+rocm611\n"}) {
        SCOPED_TRACE(df);
        std::vector<Finding> fs;
        EXPECT_NO_THROW(fs = run(df));
        for (auto& f : fs) EXPECT_NE(f.id, "GL008") << f.message; // no version to compare
    }
    EXPECT_EQ(version_number("123456"), 123456);
    EXPECT_EQ(version_number("1234567"), std::nullopt);
    EXPECT_EQ(version_number(huge), std::nullopt);
    EXPECT_EQ(version_number(""), std::nullopt);
    EXPECT_EQ(version_number("1a"), std::nullopt);
    EXPECT_EQ(version_number("-1"), std::nullopt);
    EXPECT_EQ(version_pair("6", "1"), (std::pair{6, 1}));
    EXPECT_EQ(version_pair("6", huge), std::nullopt);
}

// GL008 against the GPU stack the Dockerfile installs itself (issue 36's diagnosis), before the
// base image's: a ROCm release fed to amdgpu-install or an apt line by ARG, CUDA apt packages.
TEST(LintInstalledStack, WheelAgainstTheRocmTheDockerfileInstalls) {
    const std::string amdgpu =
        "FROM ubuntu:22.04\nARG ROCM_VERSION=6.1\n"
        "RUN wget https://repo.radeon.com/amdgpu-install/${ROCM_VERSION}/ubuntu/jammy/"
        "amdgpu-install_6.1.60100-1_all.deb && apt-get install -y "
        "./amdgpu-install_6.1.60100-1_all.deb"
        " && amdgpu-install -y --usecase=rocm\n";
    // a wheel of another ROCm release: the line and what the Dockerfile installs are named
    auto fs = run(amdgpu + "RUN pip install --no-cache-dir torch==2.5.1+rocm6.2\n");
    auto* f = first(fs, "GL008");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->at.line, 4);
    EXPECT_TRUE(has(f->message, "built for ROCm 6.2") &&
                has(f->message, "the Dockerfile installs ROCm 6.1 (line 3:"))
        << f->message;
    EXPECT_TRUE(has(f->fix, "whl/rocm6.1") && has(f->fix, "install ROCm 6.2 at line 3")) << f->fix;
    // the same release, by tag, by AMD's wheel directory, by index: silent
    EXPECT_EQ(lines(amdgpu + "RUN pip install --no-cache-dir torch==2.5.1+rocm6.1\n", "GL008"),
              L{});
    EXPECT_EQ(lines(amdgpu + "RUN pip install --no-cache-dir https://repo.radeon.com/rocm/"
                             "manylinux/rocm-rel-6.1/torch-2.1.2-cp310-cp310-linux_x86_64.whl\n",
                    "GL008"),
              L{});
    // AMD's wheel directory names another release; so does an index of PyTorch's
    EXPECT_EQ(lines(amdgpu + "RUN pip install --no-cache-dir https://repo.radeon.com/rocm/"
                             "manylinux/rocm-rel-6.3/torch-2.4.0-cp310-cp310-linux_x86_64.whl\n",
                    "GL008"),
              L{4});
    EXPECT_EQ(lines(amdgpu + "RUN pip install --no-cache-dir -f https://repo.radeon.com/rocm/"
                             "manylinux/rocm-rel-6.3/ torch\n",
                    "GL008"),
              L{4});
    EXPECT_EQ(lines(amdgpu + "RUN pip install --no-cache-dir torch --index-url "
                             "https://download.pytorch.org/whl/rocm6.2\n",
                    "GL008"),
              L{4});
    // a CUDA wheel where the Dockerfile installs ROCm
    EXPECT_EQ(lines(amdgpu + "RUN pip install --no-cache-dir torch==2.3.1+cu121\n", "GL008"), L{4});
    // an apt repository line (with a point release) and the base image's ROCm both: what the
    // Dockerfile installs wins
    const std::string apt = "FROM rocm/dev-ubuntu-22.04:6.0\nARG ROCM=6.2.4\n"
                            "RUN echo \"deb [arch=amd64 signed-by=/etc/apt/keyrings/rocm.gpg] "
                            "https://repo.radeon.com/rocm/apt/${ROCM} jammy main\" > "
                            "/etc/apt/sources.list.d/rocm.list\n";
    EXPECT_EQ(lines(apt + "RUN pip install --no-cache-dir torch==2.5.1+rocm6.2\n", "GL008"), L{});
    EXPECT_EQ(lines(apt + "RUN pip install --no-cache-dir torch==2.5.1+rocm6.0\n", "GL008"), L{4});
    // installed after the pip step, or in another stage that is not an ancestor: the base counts
    EXPECT_EQ(lines("FROM rocm/dev-ubuntu-22.04:6.0\nRUN pip install --no-cache-dir torch==2.3.1+"
                    "rocm6.0\nRUN apt-get install -y rocm-hip-sdk6.2.0\n",
                    "GL008"),
              L{});
    EXPECT_EQ(lines("FROM ubuntu:22.04 AS other\nRUN apt-get install -y rocm-hip-sdk6.2.0\n"
                    "FROM rocm/dev-ubuntu-22.04:6.0\nRUN pip install --no-cache-dir torch==2.3.1+"
                    "rocm6.0\n",
                    "GL008"),
              L{});
    // through FROM <stage>: the ancestor's install counts
    EXPECT_EQ(lines("FROM ubuntu:22.04 AS rocm\nRUN apt-get install -y rocm-hip-sdk6.2.0\n"
                    "FROM rocm\nRUN pip install --no-cache-dir torch==2.3.1+rocm6.0\n",
                    "GL008"),
              L{4});
    // repository paths that name no release
    EXPECT_EQ(lines("FROM ubuntu:22.04\nRUN echo 'deb https://repo.radeon.com/rocm/apt/latest "
                    "jammy main' > /etc/apt/sources.list.d/rocm.list\n"
                    "RUN pip install --no-cache-dir torch==2.3.1+rocm6.0\n",
                    "GL008"),
              L{});
}

TEST(LintInstalledStack, WheelAgainstTheCudaTheDockerfileInstalls) {
    const std::string cuda =
        "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y --no-install-recommends "
        "cuda-keyring cuda-toolkit-12-1=12.1.1-1\n";
    auto fs = run(cuda + "RUN pip install --no-cache-dir torch==2.1.0+cu118\n");
    auto* f = first(fs, "GL008");
    ASSERT_TRUE(f);
    EXPECT_TRUE(has(f->message, "CUDA 11.8") &&
                has(f->message, "the Dockerfile installs CUDA 12.1 (line 2: "
                                "cuda-toolkit-12-1=12.1.1-1)"))
        << f->message;
    EXPECT_TRUE(has(f->fix, "cu121") && has(f->fix, "install CUDA 11.8 at line 2")) << f->fix;
    EXPECT_EQ(lines(cuda + "RUN pip install --no-cache-dir torch==2.1.0+cu121\n", "GL008"), L{});
    EXPECT_EQ(lines(cuda + "RUN pip install --no-cache-dir https://download.pytorch.org/whl/cu118/"
                           "torch-2.1.0-cp310-cp310-linux_x86_64.whl\n",
                    "GL008"),
              L{3});
    EXPECT_EQ(lines(cuda + "RUN pip install --no-cache-dir torch==2.1.0+cpu\n", "GL008"), L{3});
    EXPECT_EQ(lines(cuda + "RUN pip install --no-cache-dir torch==2.3.1+rocm6.1\n", "GL008"), L{3});
    // installed CUDA over the base image's: nvidia/cuda:11.8 + cuda-runtime-12-4, a 12.4 wheel
    EXPECT_EQ(lines("FROM nvidia/cuda:11.8.0-runtime-ubuntu22.04\nRUN apt-get install -y "
                    "cuda-runtime-12-4\nRUN pip install --no-cache-dir torch==2.4.0+cu124\n",
                    "GL008"),
              L{});
    // conda's pins too; dnf; the same package names without a release say nothing
    EXPECT_EQ(lines(cuda + "RUN conda install -y pytorch-cuda=11.8\n", "GL008"), L{3});
    EXPECT_EQ(lines("FROM rockylinux:9\nRUN dnf install -y cuda-toolkit-12-4\n"
                    "RUN pip install --no-cache-dir torch==2.1.0+cu118\n",
                    "GL008"),
              L{3});
    EXPECT_EQ(lines("FROM ubuntu:22.04\nRUN apt-get install -y cuda-keyring cuda-drivers\n"
                    "RUN pip install --no-cache-dir torch==2.1.0+cu118\n",
                    "GL008"),
              L{});
}

// Hostile package names and URLs: no throw, no version out of range.
TEST(LintInstalledStack, HostileVersionsAreNotVersions) {
    const std::string huge(40, '9');
    for (const std::string& df :
         {"FROM ubuntu:22.04\nRUN apt-get install -y cuda-toolkit-" + huge +
              "-1\n"
              "RUN pip install torch==2.1+cu121\n",
          "FROM ubuntu:22.04\nRUN wget https://repo.radeon.com/amdgpu-install/" + huge +
              ".1/x\n"
              "RUN pip install torch==2.1+rocm6.1\n",
          "FROM ubuntu:22.04\nRUN apt-get install -y rocm-hip-sdk6." + huge +
              ".0\n"
              "RUN pip install torch==2.1+rocm6.1\n"}) {
        SCOPED_TRACE(df);
        std::vector<Finding> fs;
        EXPECT_NO_THROW(fs = run(df));
        for (auto& f : fs) EXPECT_NE(f.id, "GL008") << f.message;
    }
}

} // namespace lint_rules_rocm_test
