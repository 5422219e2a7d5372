// gantry build's reading of RUN (exec, shell, heredocs), HEALTHCHECK, COPY/ADD words, durations
// and flags, and the --gpu-arch variables.
#include "dockerfile/dockerfile.hpp"
#include "image_build/gpu_arch.hpp"
#include "image_build/instructions.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace build_instructions_test {

using namespace gantry::image_build;
using gantry::Errc;
using gantry::Error;
using Strings = std::vector<std::string>;

namespace {

gantry::dockerfile::Instruction second(const std::string& text) {
    auto df = gantry::dockerfile::parse_dockerfile("FROM scratch\n" + text);
    return df.instructions.at(1);
}

} // namespace

TEST(BuildInstructions, RunForms) {
    StageState st;
    EXPECT_EQ(run_argv(st, second("RUN echo hi && true\n")),
              (Strings{"/bin/sh", "-c", "echo hi && true"}));
    EXPECT_EQ(run_argv(st, second("RUN [\"/bin/echo\", \"a b\"]\n")),
              (Strings{"/bin/echo", "a b"}));
    st.shell = {"/bin/bash", "-euo", "pipefail", "-c"};
    EXPECT_EQ(run_argv(st, second("RUN false | true\n")),
              (Strings{"/bin/bash", "-euo", "pipefail", "-c", "false | true"}));
    EXPECT_THROW(run_argv(st, second("RUN []\n")), Error);
}

TEST(BuildInstructions, RunHeredocs) {
    StageState st;
    // alone: the body is the script
    EXPECT_EQ(run_argv(st, second("RUN <<EOF\necho one\necho two\nEOF\n")),
              (Strings{"/bin/sh", "-c", "echo one\necho two\n"}));
    // with a command: the shell feeds the body to it
    EXPECT_EQ(run_argv(st, second("RUN cat > /f <<EOF\nline\nEOF\n")),
              (Strings{"/bin/sh", "-c", "cat > /f <<EOF\nline\nEOF\n"}));
}

TEST(BuildInstructions, Durations) {
    EXPECT_EQ(parse_duration("30s"), 30'000'000'000LL);
    EXPECT_EQ(parse_duration("1m30s"), 90'000'000'000LL);
    EXPECT_EQ(parse_duration("500ms"), 500'000'000LL);
    EXPECT_EQ(parse_duration("1h"), 3'600'000'000'000LL);
    EXPECT_EQ(parse_duration("1.5s"), 1'500'000'000LL);
    EXPECT_EQ(parse_duration(".5s"), 500'000'000LL);
    EXPECT_EQ(parse_duration("2562047h"), 2562047LL * 3'600'000'000'000LL);
    // found by fuzz_build_plan: "..." reached std::stod, which threw std::invalid_argument;
    // "1.2.3s" read as 1.2s; a huge value overflowed the conversion to nanoseconds
    for (const char* bad : {"", "s", "10", "5x", "1m-3s", "...s", ".s", "1.2.3s", "1m30s...3e",
                            "999999999999h", "2562048h", "2562047h60m"})
        EXPECT_THROW(parse_duration(bad), Error) << bad;
}

TEST(BuildInstructions, Healthcheck) {
    StageState st;
    auto hc = healthcheck(st, second("HEALTHCHECK --interval=5s --timeout=2s --retries=3 "
                                     "CMD curl -f http://localhost/\n"));
    EXPECT_EQ(hc["Test"], (Strings{"CMD-SHELL", "curl -f http://localhost/"}));
    EXPECT_EQ(hc["Interval"], 5'000'000'000LL);
    EXPECT_EQ(hc["Timeout"], 2'000'000'000LL);
    EXPECT_EQ(hc["Retries"], 3);
    EXPECT_EQ(healthcheck(st, second("HEALTHCHECK CMD [\"/bin/true\"]\n"))["Test"],
              (Strings{"CMD", "/bin/true"}));
    EXPECT_EQ(healthcheck(st, second("HEALTHCHECK NONE\n"))["Test"], (Strings{"NONE"}));
    EXPECT_THROW(healthcheck(st, second("HEALTHCHECK --bogus=1 CMD true\n")), Error);
    EXPECT_THROW(healthcheck(st, second("HEALTHCHECK --retries=x CMD true\n")), Error);
    EXPECT_THROW(healthcheck(st, second("HEALTHCHECK echo\n")), Error);
}

TEST(BuildInstructions, CopyWordsAreExpanded) {
    StageState st;
    st.args["SRC"] = "app";
    auto w = copy_words(st, second("COPY ${SRC}.py lib/ /opt/$SRC/\n"));
    EXPECT_EQ(w.sources, (Strings{"app.py", "lib/"}));
    EXPECT_EQ(w.dest, "/opt/app/");
    auto j = copy_words(st, second("COPY [\"a b.txt\", \"/dst/\"]\n"));
    EXPECT_EQ(j.sources, (Strings{"a b.txt"}));
    EXPECT_THROW(copy_words(st, second("COPY onlyone\n")), Error);
    EXPECT_THROW(copy_words(st, second("COPY <<EOF /f\nx\nEOF\n")), Error);
}

TEST(BuildInstructions, UnknownFlagsAreRefusedWithTheLine) {
    auto ins = second("COPY --parents a /b\n");
    try {
        check_flags(ins, {"from", "chown"});
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find("line 2"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("--parents"), std::string::npos) << e.message();
    }
    EXPECT_NO_THROW(check_flags(second("COPY --from=x a /b\n"), {"from"}));
}

TEST(BuildGpuArch, ListsBecomeTheToolchainsVariables) {
    gantry::gpu_vendors::Roots nowhere{"/nonexistent", "/nonexistent", "/nonexistent"};
    auto env = gpu_arch_env("sm_80,9.0", nowhere);
    EXPECT_EQ(env["TORCH_CUDA_ARCH_LIST"], "8.0;9.0");
    EXPECT_EQ(env["CMAKE_CUDA_ARCHITECTURES"], "80;90");
    EXPECT_EQ(env["CUDAARCHS"], "80;90");
    EXPECT_EQ(env["GANTRY_GPU_ARCH"], "sm_80,sm_90");
    EXPECT_EQ(env.count("PYTORCH_ROCM_ARCH"), 0u);
    auto amd = gpu_arch_env("gfx90a,gfx942", nowhere);
    EXPECT_EQ(amd["PYTORCH_ROCM_ARCH"], "gfx90a;gfx942");
    EXPECT_EQ(amd["GPU_TARGETS"], "gfx90a;gfx942");
    EXPECT_EQ(amd["AMDGPU_TARGETS"], "gfx90a;gfx942");
    EXPECT_EQ(amd.count("TORCH_CUDA_ARCH_LIST"), 0u);
    EXPECT_THROW(gpu_arch_env("", nowhere), Error);
    EXPECT_THROW(gpu_arch_env("pascal", nowhere), Error);
    try { // host, on a host without GPUs
        gpu_arch_env("host", nowhere);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
        EXPECT_NE(e.message().find("--gpu-arch host"), std::string::npos) << e.message();
    }
}

} // namespace build_instructions_test
