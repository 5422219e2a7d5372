// gantry lint on the forms real GPU Dockerfiles use (issue 27, "Real-world inputs"): each class
// the issue found, where the rule fires and the near miss where it must stay silent.
#include "dockerfile/dockerfile.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "gpu_vendors/nvidia/torch_pypi.hpp"
#include "lint/lint.hpp"
#include "lint/shell.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace lint_real_world_test {

using namespace gantry::lint;
using gantry::dockerfile::parse_dockerfile;
using gantry::gpu_vendors::nvidia::torch_pypi_cuda;
using gantry::gpu_vendors::nvidia::torch_pypi_table;
using gantry::gpu_vendors::nvidia::TorchPypiCuda;

namespace {

std::vector<Finding> run(const std::string& text) {
    Options opt; // lint's rules and every registered GPU vendor's
    opt.rule_sets = gantry::gpu_vendors::lint_rule_sets();
    return lint(parse_dockerfile(text), opt);
}

std::vector<int> lines(const std::string& text, const std::string& code) {
    std::vector<int> r;
    for (auto& f : run(text))
        if (f.id == code) r.push_back(f.at.line);
    return r;
}

// The messages of rule `code`.
std::vector<std::string> messages(const std::string& text, const std::string& code) {
    std::vector<std::string> r;
    for (auto& f : run(text))
        if (f.id == code) r.push_back(f.message);
    return r;
}

bool has(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

using L = std::vector<int>;
using V = std::vector<std::string>;

} // namespace

TEST(LintRealWorld, LegacyLabelKeyValueIsAccepted) {
    // NVIDIA's CUDA image Dockerfiles: LABEL maintainer "NVIDIA CORPORATION <...>"
    std::string df = "FROM ubuntu:22.04\nLABEL maintainer \"NVIDIA CORPORATION <cudatools@x>\"\n"
                     "RUN apt-get update\n";
    EXPECT_EQ(parse_dockerfile(df).instructions[1].keyword, "LABEL");
    EXPECT_EQ(lines(df, "GL006"), L{3}); // the file is linted
    // near miss: a key without a value is refused, as BuildKit ("must have two arguments")
    try {
        parse_dockerfile("FROM ubuntu:22.04\nLABEL maintainer\n");
        FAIL() << "LABEL with one word parsed";
    } catch (const gantry::Error& e) {
        EXPECT_TRUE(has(e.message(), "line 2: LABEL requires")) << e.message();
        EXPECT_TRUE(has(e.message(), "legacy LABEL KEY VALUE")) << e.message();
    }
}

TEST(LintRealWorld, GL006ListsRemovedAnotherWay) {
    const std::string update = "FROM x:1\nRUN apt-get update && apt-get install -y "
                               "--no-install-recommends curl && ";
    // llama.cpp's .devops/*.Dockerfile
    EXPECT_EQ(lines(update + "find /var/cache/apt/archives /var/lib/apt/lists -not -name lock "
                             "-type f -delete\n",
                    "GL006"),
              L{});
    EXPECT_EQ(lines(update + "find /var/lib/apt/lists -type f -exec rm -f {} +\n", "GL006"), L{});
    EXPECT_EQ(lines(update + "rm -rf /var/lib/apt/*\n", "GL006"), L{});
    EXPECT_EQ(lines(update + "rm -rf /var/lib/apt/lists\n", "GL006"), L{});
    EXPECT_EQ(lines(update + "rm -rf \"/var/lib/apt/lists/\"*\n", "GL006"), L{});
    // near misses: find without -delete, find elsewhere, apt-get clean (archives only), a
    // sibling directory
    EXPECT_EQ(lines(update + "find /var/lib/apt/lists -type f\n", "GL006"), L{2});
    EXPECT_EQ(lines(update + "find /tmp /var/cache/apt -type f -delete\n", "GL006"), L{2});
    EXPECT_EQ(lines(update + "apt-get clean\n", "GL006"), L{2});
    EXPECT_EQ(lines(update + "rm -rf /var/lib/apt/listsold\n", "GL006"), L{2});
}

TEST(LintRealWorld, GL006OnlyWhereAptGetUpdateRuns) {
    // the lists come from the RUN that updated them: only that one is reported
    EXPECT_EQ(lines("FROM x:1\nRUN apt-get update\nRUN apt-get install -y curl\n"
                    "RUN apt-get -y dist-upgrade\n",
                    "GL006"),
              L{2});
    EXPECT_EQ(
        lines("FROM x:1\nRUN apt-get install -y --no-install-recommends ./local.deb\n", "GL006"),
        L{});
    EXPECT_EQ(lines("FROM x:1\nRUN apt update && apt install -y curl\n", "GL006"), L{2});
}

TEST(LintRealWorld, GL007OncePerRun) {
    auto m = messages("FROM python:3.11\nRUN if [ -n \"$X\" ]; then \\\n pip install a; \\\n"
                      "else \\\n pip install a; \\\n fi\n",
                      "GL007");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_TRUE(has(m[0], "pip install of a (2 pip commands in this RUN)")) << m[0];
    // two different installs: one finding naming both
    m = messages("FROM python:3.11\nRUN pip install a && pip install -r req.txt\n", "GL007");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_TRUE(has(m[0], "of a, req.txt")) << m[0];
    // pip and uv in one RUN: two tools, two fixes
    EXPECT_EQ(lines("FROM python:3.11\nRUN pip install uv && uv pip install --system b\n", "GL007"),
              (L{2, 2}));
    // near miss: one branch has --no-cache-dir, the other not: still reported (once)
    EXPECT_EQ(lines("FROM python:3.11\nRUN if true; then pip install --no-cache-dir a; "
                    "else pip install a; fi\n",
                    "GL007"),
              L{2});
    EXPECT_EQ(lines("FROM python:3.11\nRUN if true; then pip install --no-cache-dir a; "
                    "else pip install --no-cache-dir b; fi\n",
                    "GL007"),
              L{});
}

TEST(LintRealWorld, GL008DefaultPypiTorchBuild) {
    // torch==1.13.0 from PyPI is a CUDA 11.7 build
    auto m = messages("FROM nvidia/cuda:11.8.0-runtime-ubuntu22.04\n"
                      "RUN pip install --no-cache-dir torch==1.13.0 torchvision\n",
                      "GL008");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_TRUE(has(m[0], "torch==1.13.0 from PyPI (its default wheel is a CUDA 11.7 build)"))
        << m[0];
    EXPECT_TRUE(has(m[0], "has CUDA 11.8")) << m[0];
    EXPECT_EQ(lines("FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04\nARG TV=2.5.1\n"
                    "RUN pip install --no-cache-dir \"torch==${TV}\"\n",
                    "GL008"),
              L{3});
    EXPECT_EQ(lines("FROM nvidia/cuda:11.8.0-runtime-ubuntu22.04\n"
                    "RUN uv pip install --no-cache torch==2.1.*\n",
                    "GL008"),
              L{2});
    // a CUDA build on a ROCm base
    EXPECT_EQ(lines("FROM rocm/pytorch:rocm6.1_ubuntu22.04_py3.10_pytorch_2.1.2\n"
                    "RUN pip install --no-cache-dir torch==2.1.2\n",
                    "GL008"),
              L{2});
    // near misses: the matching CUDA; a version the table lacks (older than 1.13, or newer);
    // a range; another index (flag or environment); an explicit +cu pin is the other path
    for (const char* ok : {"FROM nvidia/cuda:11.7.1-runtime-ubuntu22.04\n"
                           "RUN pip install --no-cache-dir torch==1.13.1\n",
                           "FROM nvidia/cuda:11.8.0-runtime-ubuntu22.04\n"
                           "RUN pip install --no-cache-dir torch==1.12.1\n",
                           "FROM nvidia/cuda:11.8.0-runtime-ubuntu22.04\n"
                           "RUN pip install --no-cache-dir torch==2.10.0\n",
                           "FROM nvidia/cuda:11.8.0-runtime-ubuntu22.04\n"
                           "RUN pip install --no-cache-dir 'torch>=1.13'\n",
                           "FROM nvidia/cuda:11.8.0-runtime-ubuntu22.04\n"
                           "RUN pip install --no-cache-dir -i https://mirror.example/simple "
                           "torch==1.13.0\n",
                           "FROM nvidia/cuda:11.8.0-runtime-ubuntu22.04\n"
                           "ENV PIP_INDEX_URL=https://mirror.example/simple\n"
                           "RUN pip install --no-cache-dir torch==1.13.0\n",
                           "FROM nvidia/cuda:11.8.0-runtime-ubuntu22.04\n"
                           "RUN pip install --no-cache-dir torch==1.13.0rc1\n",
                           "FROM python:3.11\nRUN pip install --no-cache-dir torch==2.1.0\n"})
        EXPECT_EQ(lines(ok, "GL008"), L{}) << ok;
}

TEST(LintRealWorld, TorchPypiTableIsConsistent) {
    std::size_t n = 0;
    const TorchPypiCuda* t = torch_pypi_table(&n);
    ASSERT_GE(n, 10u);
    for (std::size_t i = 0; i < n; ++i) {
        std::string v = std::to_string(t[i].torch_major) + "." + std::to_string(t[i].torch_minor);
        auto c = torch_pypi_cuda(v + ".0");
        ASSERT_TRUE(c) << v;
        EXPECT_EQ(*c, std::make_pair(t[i].cuda_major, t[i].cuda_minor)) << v;
        EXPECT_NE(std::string(t[i].source), "") << v;
        if (i) { // oldest first, CUDA never older than the release line before
            EXPECT_LE(std::make_pair(t[i - 1].cuda_major, t[i - 1].cuda_minor),
                      std::make_pair(t[i].cuda_major, t[i].cuda_minor));
        }
    }
    EXPECT_EQ(torch_pypi_cuda("1.13.0"), std::make_pair(11, 7));
    EXPECT_EQ(torch_pypi_cuda("2.1.*"), std::make_pair(12, 1));
    EXPECT_FALSE(torch_pypi_cuda("1.12.1"));
    EXPECT_FALSE(torch_pypi_cuda("2.1.0a0"));
    EXPECT_FALSE(torch_pypi_cuda("4294967296.1"));
    EXPECT_FALSE(torch_pypi_cuda("2"));
}

TEST(LintRealWorld, UvSyncAndFindExecPipAreChecked) {
    EXPECT_EQ(
        lines("FROM python:3.11\nCOPY pyproject.toml uv.lock ./\nRUN uv sync --frozen\n", "GL007"),
        L{3});
    EXPECT_EQ(messages("FROM python:3.11\nRUN uv sync --frozen\n", "GL007").at(0).substr(0, 24),
              "uv sync keeps uv's cache");
    for (const char* ok : {"FROM python:3.11\nRUN uv sync --frozen --no-cache\n",
                           "FROM python:3.11\nENV UV_NO_CACHE=1\nRUN uv sync\n",
                           "FROM python:3.11\nRUN --mount=type=cache,target=/root/.cache/uv "
                           "uv sync --locked\n",
                           "FROM python:3.11\nRUN uv lock\n"})
        EXPECT_EQ(lines(ok, "GL007"), L{}) << ok;
    // GL011 sees uv sync as the dependency install after COPY . .
    EXPECT_EQ(lines("FROM python:3.11\nCOPY . .\nRUN uv sync\n", "GL011"), L{2});
    // find -exec / xargs run pip
    EXPECT_EQ(lines("FROM python:3.11\nRUN find /wheels -name '*.whl' -exec pip install {} \\;\n",
                    "GL007"),
              L{2});
    EXPECT_EQ(lines("FROM python:3.11\nRUN ls /w/*.whl | xargs -n1 pip install\n", "GL007"), L{2});
    EXPECT_EQ(lines("FROM python:3.11\nRUN find /w -name '*.whl' -exec pip install "
                    "--no-cache-dir {} +\n",
                    "GL007"),
              L{});
    EXPECT_EQ(lines("FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04\nRUN find /w -name '*.txt' "
                    "-exec pip install --no-cache-dir torch==2.1.0+cu118 -r {} \\;\n",
                    "GL008"),
              L{2});
    auto c = split_commands("find . -name x -exec rm -f {} \\; -o -execdir sh -c 'echo a' ';' "
                            "&& xargs -I{} -P 4 cp {} /d");
    std::vector<V> argv;
    for (auto& k : c) argv.push_back(k.argv);
    EXPECT_EQ(argv.size(), 5u);
    EXPECT_EQ(argv[1], (V{"rm", "-f", "{}"}));
    EXPECT_EQ(argv[2], (V{"echo", "a"}));
    EXPECT_EQ(argv[4], (V{"cp", "{}", "/d"}));
}

TEST(LintRealWorld, MessagesShowArgDefaults) {
    auto m = messages("FROM python:3.11\nARG TF=tensorflow==2.15.0\nCOPY . .\n"
                      "RUN pip install ${TF}\n",
                      "GL011");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_TRUE(has(m[0], "(pip install tensorflow==2.15.0)")) << m[0];
    m = messages("FROM python:3.11\nARG TF=tensorflow==2.15.0\nRUN pip install $TF\n", "GL007");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_TRUE(has(m[0], "pip install of tensorflow==2.15.0 keeps")) << m[0];
    m = messages("FROM ubuntu:22.04\nARG CC=gcc-12\nRUN apt-get install -y \"${CC}\"\n", "GL002");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_TRUE(has(m[0], "toolchain gcc-12 installed")) << m[0];
    // near miss: an ARG without a value stays as written
    m = messages("FROM python:3.11\nARG TF\nRUN pip install ${TF}\n", "GL007");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_TRUE(has(m[0], "pip install of ${TF} keeps")) << m[0];
}

TEST(LintRealWorld, UnterminatedBraceInRunWordIsNotAParseError) {
    // BuildKit does not expand shell-form RUN: "${" without "}" is the shell's business, and
    // GL008's pin check used to throw "missing '}'" (exit 4) on it
    EXPECT_NO_THROW(run("FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04\n"
                        "RUN pip install --no-cache-dir \"torch${X\"\n"));
}

} // namespace lint_real_world_test
