// gantry lint rules: for each rule a Dockerfile where it fires (exact line asserted) and a
// near-miss where it must not.
#include "dockerfile/dockerfile.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "lint/lint.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace lint_rules_test {

using namespace gantry::lint;
using gantry::dockerfile::parse_dockerfile;

namespace {

std::vector<Finding> run(const std::string& text, const Options& opt = {}) {
    Options with_vendors = opt; // lint's rules and every registered GPU vendor's
    with_vendors.rule_sets = gantry::gpu_vendors::lint_rule_sets();
    return lint(parse_dockerfile(text), with_vendors);
}

// Lines at which rule `code` fires.
std::vector<int> lines(const std::string& text, const std::string& code, const Options& opt = {}) {
    std::vector<int> r;
    for (auto& f : run(text, opt))
        if (f.id == code) r.push_back(f.at.line);
    return r;
}

using L = std::vector<int>;
const std::string kPinned = "nvidia/cuda:12.1.0-runtime-ubuntu22.04@sha256:"
                            "0000000000000000000000000000000000000000000000000000000000000000";

} // namespace

TEST(LintRules, GL001DevelBaseInFinalStage) {
    EXPECT_EQ(lines("FROM nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04\nRUN make\n", "GL001"), L{1});
    // through a stage reference, ARG-substituted
    EXPECT_EQ(lines("ARG T=2.1.0-cuda12.1-cudnn8-devel\nFROM pytorch/pytorch:${T} AS base\n"
                    "FROM base\n",
                    "GL001"),
              L{2});
    auto f = run("FROM nvidia/cuda:12.1.0-devel-ubuntu22.04\n");
    ASSERT_FALSE(f.empty());
    EXPECT_NE(f[0].fix.find("nvidia/cuda:12.1.0-runtime-ubuntu22.04"), std::string::npos);
    // near-miss: devel only in the builder stage
    EXPECT_EQ(lines("FROM nvidia/cuda:12.1.0-devel-ubuntu22.04 AS build\nRUN make\n"
                    "FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04\nCOPY --from=build /a /a\n",
                    "GL001"),
              L{});
    // --target picks the shipped stage
    Options opt;
    opt.build.target = "build";
    EXPECT_EQ(lines("FROM nvidia/cuda:12.1.0-devel-ubuntu22.04 AS build\n"
                    "FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04\n",
                    "GL001", opt),
              L{1});
    // "devel" of a non-GPU image is someone else's business
    EXPECT_EQ(lines("FROM mycorp/devel-tools:1.0\n", "GL001"), L{});
}

TEST(LintRules, GL002CompilerWithoutMultiStage) {
    EXPECT_EQ(lines("FROM " + kPinned +
                        "\nRUN apt-get update && apt-get install -y --no-install-recommends \\\n"
                        "    build-essential cuda-nvcc-12-1 && rm -rf /var/lib/apt/lists/*\n",
                    "GL002"),
              L{2});
    EXPECT_EQ(lines("FROM " + kPinned +
                        "\nRUN conda install -y -c nvidia cuda-nvcc && conda clean -afy\n",
                    "GL002"),
              L{2});
    // near-miss: the compiler lives in a builder stage only; libgcc-s1 is not a compiler
    EXPECT_EQ(lines("FROM ubuntu:22.04 AS build\nRUN apt-get install -y gcc g++-12\n"
                    "FROM " +
                        kPinned +
                        "\nRUN apt-get install -y --no-install-recommends libgcc-s1 && rm -rf "
                        "/var/lib/apt/lists/*\n",
                    "GL002"),
              L{});
}

TEST(LintRules, GL003And004BaseImagePinning) {
    std::string df =
        "ARG TAG=latest\n"
        "FROM ubuntu AS a\n"             // 2: untagged
        "FROM nvidia/cuda:${TAG} AS b\n" // 3: latest through ARG
        "FROM ubuntu:22.04 AS c\n"       // 4: tag only -> GL004
        "FROM a\n"                       // 5: stage reference
        "FROM scratch\n"                 // 6: scratch
        "FROM " +
        kPinned +
        "\n" // 7: digest
        "FROM busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000\n"
        "FROM x/y:${UNSET}\n"; // 9: not resolvable
    EXPECT_EQ(lines(df, "GL003"), (L{2, 3}));
    EXPECT_EQ(lines(df, "GL004"), L{4});
    Options opt;
    opt.build.build_args["TAG"] = "12.1.0-base-ubuntu22.04";
    EXPECT_EQ(lines(df, "GL003", opt), (L{2}));
    EXPECT_EQ(lines(df, "GL004", opt), (L{3, 4}));
}

TEST(LintRules, GL005NoInstallRecommends) {
    EXPECT_EQ(lines("FROM x:1\nRUN apt-get update && \\\n  apt-get install -y python3 && rm -rf "
                    "/var/lib/apt/lists/*\nRUN apt install -y curl\n",
                    "GL005"),
              (L{2, 4}));
    // near-misses: the flag, the -o option, an apt.conf written earlier, apt-get update only
    EXPECT_EQ(lines("FROM x:1\nRUN apt-get install -y --no-install-recommends python3\n"
                    "RUN apt-get -o APT::Install-Recommends=false install -y curl\n"
                    "RUN apt-get update\n",
                    "GL005"),
              L{});
    EXPECT_EQ(lines("FROM x:1\nRUN echo 'APT::Install-Recommends \"false\";' > "
                    "/etc/apt/apt.conf.d/99norec\nRUN apt-get install -y curl\n",
                    "GL005"),
              L{});
}

TEST(LintRules, GL006AptListsRemoved) {
    EXPECT_EQ(lines("FROM x:1\nRUN apt-get update\n"
                    "RUN apt-get install -y --no-install-recommends curl\n"
                    "RUN rm -rf /var/lib/apt/lists/*\n",
                    "GL006"),
              (L{2}));
    // near-misses: removed in the same RUN, a cache mount, a builder stage that does not ship
    EXPECT_EQ(lines("FROM x:1 AS build\nRUN apt-get update && apt-get install -y "
                    "--no-install-recommends gcc\n"
                    "FROM x:1\nRUN apt-get update && apt-get install -y --no-install-recommends "
                    "curl \\\n && rm -rf /var/lib/apt/lists/*\n"
                    "RUN --mount=type=cache,target=/var/lib/apt,sharing=locked apt-get update\n",
                    "GL006"),
              L{});
    // a cache mount of /var/cache/apt only does not cover the lists
    EXPECT_EQ(
        lines("FROM x:1\nRUN --mount=type=cache,target=/var/cache/apt apt-get update\n", "GL006"),
        L{2});
}

TEST(LintRules, GL007PipCache) {
    EXPECT_EQ(lines("FROM x:1\nWORKDIR /app\nRUN python3 -m pip install -r requirements.txt\n"
                    "RUN uv pip install --system numpy\n",
                    "GL007"),
              (L{3, 4}));
    EXPECT_EQ(lines("FROM x:1\nRUN pip install --no-cache-dir torch\n"
                    "RUN --mount=type=cache,target=/root/.cache/pip pip install numpy\n"
                    "RUN PIP_NO_CACHE_DIR=1 pip3 install scipy\n"
                    "RUN uv pip install --no-cache x\n"
                    "RUN pip download y\n",
                    "GL007"),
              L{});
    EXPECT_EQ(lines("FROM x:1\nENV PIP_NO_CACHE_DIR=1\nRUN pip install torch\n", "GL007"), L{});
    // ENV is inherited by FROM <stage>
    EXPECT_EQ(
        lines("FROM x:1 AS base\nENV PIP_NO_CACHE_DIR=on\nFROM base\nRUN pip install a\n", "GL007"),
        L{});
}

TEST(LintRules, GL008TorchCudaMismatch) {
    EXPECT_EQ(lines("FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04\n"
                    "RUN pip install --no-cache-dir torch==2.1.0+cu118\n",
                    "GL008"),
              L{2});
    EXPECT_EQ(lines("ARG CU=cu118\nFROM pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime\n"
                    "RUN pip install --no-cache-dir torch torchvision \\\n"
                    "    --index-url https://download.pytorch.org/whl/cu124\n",
                    "GL008"),
              L{3});
    EXPECT_EQ(lines("FROM nvidia/cuda:12.4.1-base-ubuntu22.04\nRUN pip install --no-cache-dir "
                    "torch==2.4.0+cpu\n",
                    "GL008"),
              L{2});
    // near-misses: matching build, no CUDA base, pytorch index for another package set
    EXPECT_EQ(lines("FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04\n"
                    "ARG TORCH=2.1.0+cu121\n"
                    "RUN pip install --no-cache-dir torch==${TORCH}\n"
                    "RUN pip install --no-cache-dir torch --index-url "
                    "https://download.pytorch.org/whl/cu121\n",
                    "GL008"),
              L{});
    EXPECT_EQ(
        lines("FROM python:3.11\nRUN pip install --no-cache-dir torch==2.1.0+cu118\n", "GL008"),
        L{});
    // conda's CUDA pins
    EXPECT_EQ(lines("FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04\n"
                    "RUN conda install -y pytorch pytorch-cuda=11.8 -c pytorch -c nvidia && "
                    "conda clean -afy\n"
                    "RUN mamba install -y pytorch-cuda=12.1 && conda clean -afy\n",
                    "GL008"),
              L{2});
    // the version can come from ENV CUDA_VERSION when the tag does not tell
    EXPECT_EQ(lines("FROM mycorp/base:3\nENV CUDA_VERSION=12.4.1\n"
                    "RUN pip install --no-cache-dir torch==2.1.0+cu118\n",
                    "GL008"),
              L{3});
}

TEST(LintRules, GL009DriverCapabilitiesAll) {
    EXPECT_EQ(lines("FROM x:1\nENV A=1 \\\n    NVIDIA_DRIVER_CAPABILITIES=all\n", "GL009"), L{2});
    EXPECT_EQ(
        lines("FROM x:1\nARG CAPS=compute,all\nENV NVIDIA_DRIVER_CAPABILITIES $CAPS\n", "GL009"),
        L{3});
    EXPECT_EQ(lines("FROM x:1\nENV NVIDIA_DRIVER_CAPABILITIES=compute,utility\n"
                    "LABEL NVIDIA_DRIVER_CAPABILITIES=all\n",
                    "GL009"),
              L{});
}

TEST(LintRules, GL010DataAndWeightsCopied) {
    EXPECT_EQ(lines("FROM x:1\nCOPY model.safetensors /models/\n"
                    "ADD [\"ckpt/last.ckpt\", \"/w/\"]\n"
                    "COPY ./data/ /app/data\n"
                    "COPY pytorch_model.bin config.json /m/\n"
                    "COPY --from=dl /out/weights.pt /w.pt\n",
                    "GL010"),
              (L{2, 3, 4, 5, 6}));
    EXPECT_EQ(lines("FROM x:1 AS unused\nCOPY data/ /d\n"
                    "FROM x:1\nCOPY firmware.bin /lib/firmware/\nCOPY src/ /app/src\n"
                    "COPY requirements.txt /app/\nCOPY src/models/ /app/models\n",
                    "GL010"),
              L{});
}

TEST(LintRules, GL010LargeContextPaths) {
    namespace fs = std::filesystem;
    auto dir = fs::temp_directory_path() / ("gantry-lint-ctx-" + std::to_string(::getpid()));
    fs::create_directories(dir / "assets");
    {
        std::ofstream big(dir / "assets" / "blob");
        big << std::string(3000, 'x');
    }
    std::ofstream(dir / "small.txt") << "hi";
    Options opt;
    opt.context = dir;
    opt.large_bytes = 2000;
    EXPECT_EQ(lines("FROM x:1\nCOPY small.txt /s\nCOPY assets /assets\n", "GL010", opt), L{3});
    opt.large_bytes = 5000;
    EXPECT_EQ(lines("FROM x:1\nCOPY small.txt /s\nCOPY assets /assets\n", "GL010", opt), L{});
    fs::remove_all(dir);
}

TEST(LintRules, GL011WholeContextBeforeInstall) {
    EXPECT_EQ(lines("FROM x:1\nWORKDIR /app\nCOPY . .\nRUN pip install --no-cache-dir -r "
                    "requirements.txt\n",
                    "GL011"),
              L{3});
    auto f = run("FROM x:1\nCOPY . /app\nRUN echo\nRUN apt-get install -y --no-install-recommends "
                 "x && rm -rf /var/lib/apt/lists/*\n");
    bool found = false;
    for (auto& x : f)
        if (x.id == "GL011") {
            found = true;
            EXPECT_EQ(x.at.line, 2);
            EXPECT_NE(x.message.find("line 4"), std::string::npos) << x.message;
        }
    EXPECT_TRUE(found);
    EXPECT_EQ(
        lines("FROM x:1\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r "
              "requirements.txt\nCOPY . .\nRUN pip install --no-cache-dir --no-deps .\n"
              "FROM x:1\nCOPY --from=0 / /\nRUN apt-get install -y --no-install-recommends x\n",
              "GL011"),
        L{});
}

TEST(LintRules, GL012CondaClean) {
    EXPECT_EQ(lines("FROM x:1\nRUN conda install -y numpy\nRUN conda clean -afy\n", "GL012"), L{2});
    EXPECT_EQ(lines("FROM x:1\nRUN conda env create -f env.yml && conda clean -afy\n"
                    "RUN --mount=type=cache,target=/opt/conda/pkgs mamba install -y scipy\n"
                    "RUN conda info\n",
                    "GL012"),
              L{});
}

TEST(LintRules, GL013NvidiaSmiAtBuildTime) {
    EXPECT_EQ(lines("FROM x:1\nRUN nvidia-smi && echo ok\n", "GL013"), L{2});
    EXPECT_EQ(lines("FROM x:1\nCMD [\"nvidia-smi\"]\nHEALTHCHECK CMD nvidia-smi\n"
                    "RUN echo nvidia-smi\n",
                    "GL013"),
              L{});
}

TEST(LintRules, GL014WeightsDownloadedByRun) {
    EXPECT_EQ(lines("FROM x:1\nRUN huggingface-cli download meta-llama/Llama-3-8B\n"
                    "RUN wget -q https://example.com/m/model.safetensors -O /m.st\n"
                    "RUN python -c \"from transformers import AutoModel; "
                    "AutoModel.from_pretrained('bert-base-uncased')\"\n",
                    "GL014"),
              (L{2, 3, 4}));
    EXPECT_EQ(lines("FROM x:1 AS dl\nRUN huggingface-cli download m\nFROM x:1\n"
                    "RUN wget https://example.com/tool.tar.gz\n"
                    "RUN --mount=type=cache,target=/root/.cache/huggingface python -c "
                    "\"snapshot_download('x')\"\n",
                    "GL014"),
              L{});
}

TEST(LintRules, GL015DriverStubsAtRunTime) {
    EXPECT_EQ(lines("FROM x:1\nENV LD_LIBRARY_PATH=/usr/local/cuda/lib64/stubs:$LD_LIBRARY_PATH\n"
                    "RUN echo /usr/local/cuda/lib64/stubs > /etc/ld.so.conf.d/z.conf && ldconfig\n",
                    "GL015"),
              (L{2, 3}));
    EXPECT_EQ(lines("FROM x:1\nENV LIBRARY_PATH=/usr/local/cuda/lib64/stubs\n"
                    "ENV LD_LIBRARY_PATH=/usr/local/cuda/lib64\n"
                    "RUN nvcc -L/usr/local/cuda/lib64/stubs -lcuda x.cu\n",
                    "GL015"),
              L{});
}

TEST(LintRules, GL016CudaVisibleDevices) {
    EXPECT_EQ(lines("FROM x:1\nENV CUDA_VISIBLE_DEVICES=0\n", "GL016"), L{2});
    EXPECT_EQ(lines("FROM x:1\nENV NVIDIA_VISIBLE_DEVICES=all\nFROM x:1 AS other\n"
                    "ENV CUDA_VISIBLE_DEVICES=0\nFROM x:1\n",
                    "GL016"),
              L{});
}

TEST(LintRules, PragmasIgnoreAndSeverity) {
    std::string df = "# gantry-lint global ignore=GL004\n"
                     "FROM ubuntu:22.04\n"
                     "# why: pinned elsewhere\n"
                     "# gantry-lint ignore=GL005,GL006\n"
                     "RUN apt-get update && apt-get install -y curl\n"
                     "RUN apt-get update && apt-get install -y git\n";
    EXPECT_EQ(lines(df, "GL004"), L{});
    EXPECT_EQ(lines(df, "GL005"), L{6});
    EXPECT_EQ(lines(df, "GL006"), L{6});
    Options opt;
    opt.ignore = {"GL006"};
    opt.severity["GL005"] = Severity::fail;
    auto f = run(df, opt);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].id, "GL005");
    EXPECT_EQ(f[0].severity, Severity::fail);
    EXPECT_TRUE(fails(f, Severity::fail));
    EXPECT_FALSE(fails(f, std::nullopt));
    f[0].severity = Severity::info;
    EXPECT_FALSE(fails(f, Severity::warn));
    EXPECT_TRUE(fails(f, Severity::info));
}

TEST(LintRules, OnbuildRunIsChecked) {
    EXPECT_EQ(lines("FROM x:1\nONBUILD RUN pip install -r req.txt\n", "GL007"), L{2});
}

} // namespace lint_rules_test
