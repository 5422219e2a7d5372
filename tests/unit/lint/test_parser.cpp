// Dockerfile parser, word expansion and the RUN shell splitter of gantry lint.
#include "dockerfile/dockerfile.hpp"
#include "dockerfile/words.hpp"
#include "gpu_vendors/nvidia/lint_rules.hpp"
#include "lint/model.hpp"
#include "lint/shell.hpp"
#include "lint/stacks.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace lint_parser_test {

using namespace gantry::lint;
using namespace gantry::dockerfile;
using gantry::Errc;
using gantry::Error;

namespace {

// The message of the parse error of text ("" when it parses).
std::string parse_failure(const std::string& text) {
    try {
        parse_dockerfile(text);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid) << e.message();
        return e.message();
    }
    return {};
}

std::vector<std::vector<std::string>> argvs(const std::vector<Command>& cmds) {
    std::vector<std::vector<std::string>> r;
    for (auto& c : cmds) r.push_back(c.argv);
    return r;
}

using V = std::vector<std::string>;
using VV = std::vector<V>;

} // namespace

TEST(LintParser, InstructionsAreCaseInsensitiveWithLines) {
    auto df = parse_dockerfile("from ubuntu:22.04\n\nrun echo hi\nCmd [\"sh\"]\n");
    ASSERT_EQ(df.instructions.size(), 3u);
    EXPECT_EQ(df.instructions[0].keyword, "FROM");
    EXPECT_EQ(df.instructions[1].keyword, "RUN");
    EXPECT_EQ(df.instructions[1].line, 3);
    EXPECT_EQ(df.instructions[2].keyword, "CMD");
    EXPECT_TRUE(df.instructions[2].json);
    EXPECT_EQ(df.instructions[2].json_args, V{"sh"});
}

TEST(LintParser, Directives) {
    auto df = parse_dockerfile("# syntax=docker/dockerfile:1.7\n# check=skip=all\n"
                               "# escape=`\nFROM x:1\n");
    EXPECT_EQ(df.escape, '`');
    EXPECT_EQ(df.directives.at("syntax"), "docker/dockerfile:1.7");
    EXPECT_EQ(df.directives.at("check"), "skip=all");
    // after a comment or instruction, a directive is only a comment
    auto late = parse_dockerfile("# hello\n# escape=`\nFROM x:1\n");
    EXPECT_EQ(late.escape, '\\');
    EXPECT_TRUE(late.directives.empty());
    EXPECT_NE(parse_failure("# escape=`\n# escape=\\\nFROM x\n").find("line 2: only one escape"),
              std::string::npos);
    EXPECT_NE(parse_failure("# escape=x\nFROM x\n").find("line 1: invalid escape"),
              std::string::npos);
}

TEST(LintParser, ContinuationsSkipCommentAndEmptyLines) {
    auto df = parse_dockerfile("FROM x:1\n"
                               "RUN apt-get update && \\\n"
                               "    # a comment inside\n"
                               "\n"
                               "    apt-get install -y curl   \\  \n"
                               "    && echo done\n"
                               "RUN echo \\\\\n"
                               "RUN last\n");
    ASSERT_EQ(df.instructions.size(), 4u);
    const auto& run = df.instructions[1];
    EXPECT_EQ(run.line, 2);
    EXPECT_EQ(run.end_line, 6);
    EXPECT_EQ(run.args, "apt-get update &&     apt-get install -y curl       && echo done");
    // an escaped escape at the end does not continue the line
    EXPECT_EQ(df.instructions[2].args, "echo \\\\");
    EXPECT_EQ(df.instructions[3].line, 8);
}

TEST(LintParser, BacktickEscapeAndCrlf) {
    auto df = parse_dockerfile("# escape=`\r\nFROM mcr.microsoft.com/windows:ltsc2022\r\n"
                               "COPY C:\\src\\app `\r\n     C:\\app\\\r\nRUN dir\r\n");
    ASSERT_EQ(df.instructions.size(), 3u);
    EXPECT_EQ(df.instructions[1].args, "C:\\src\\app      C:\\app\\");
    EXPECT_EQ(df.instructions[2].line, 5);
}

TEST(LintParser, FlagsAndMounts) {
    auto df = parse_dockerfile(
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n"
        "RUN --mount=type=cache,target=/root/.cache/pip --network=none pip install x\n"
        "COPY --from=build --chown=1000:1000 --link /out /app\n");
    auto& from = df.instructions[0];
    ASSERT_NE(from.flag("platform"), nullptr);
    EXPECT_EQ(from.flag("platform")->value, "$BUILDPLATFORM");
    EXPECT_EQ(from.args, "golang:1.22 AS build");
    auto& run = df.instructions[1];
    ASSERT_EQ(run.flags.size(), 2u);
    EXPECT_EQ(run.args, "pip install x");
    auto m = parse_mount(run.flag("mount")->value);
    EXPECT_EQ(m.type, "cache");
    EXPECT_EQ(m.target, "/root/.cache/pip");
    auto& copy = df.instructions[2];
    EXPECT_EQ(copy.flag("from")->value, "build");
    EXPECT_FALSE(copy.flag("link")->has_value);
    EXPECT_EQ(copy.args, "/out /app");

    EXPECT_NE(parse_failure("FROM x\nCOPY --form=a b c\n").find("line 2: unknown flag --form"),
              std::string::npos);
    EXPECT_NE(parse_failure("FROM x\nRUN --mount=type=cache echo\n").find("needs a target"),
              std::string::npos);
    EXPECT_NE(parse_failure("FROM x\nRUN --mount=type=nfs,target=/x echo\n").find("unknown type"),
              std::string::npos);
    EXPECT_NE(parse_failure("FROM --platform x\n").find("needs a value"), std::string::npos);
    EXPECT_NE(parse_failure("FROM x\nENV --foo=1 A=b\n").find("line 2: unknown flag --foo for ENV"),
              std::string::npos);
}

TEST(LintParser, Heredocs) {
    auto df = parse_dockerfile("FROM x:1\n"
                               "RUN <<EOF\n"
                               "apt-get update\n"
                               "EOF\n"
                               "COPY <<-\"A\" /a <<B /b\n"
                               "\t\tliteral $X\n"
                               "\tA\n"
                               "b body\n"
                               "B\n"
                               "RUN 3<<'EOT' cat /proc/self/fd/3\n"
                               "data\n"
                               "EOT\n"
                               "RUN echo done\n");
    ASSERT_EQ(df.instructions.size(), 5u);
    auto& run = df.instructions[1];
    ASSERT_EQ(run.heredocs.size(), 1u);
    EXPECT_EQ(run.heredocs[0].name, "EOF");
    EXPECT_EQ(run.heredocs[0].content, "apt-get update\n");
    EXPECT_EQ(run.heredocs[0].line, 3);
    EXPECT_EQ(run.end_line, 4);
    auto& copy = df.instructions[2];
    ASSERT_EQ(copy.heredocs.size(), 2u);
    EXPECT_EQ(copy.heredocs[0].name, "A");
    EXPECT_TRUE(copy.heredocs[0].chomp);
    EXPECT_FALSE(copy.heredocs[0].expand);
    EXPECT_EQ(copy.heredocs[0].content, "literal $X\n");
    EXPECT_EQ(copy.heredocs[1].name, "B");
    EXPECT_TRUE(copy.heredocs[1].expand);
    EXPECT_EQ(copy.heredocs[1].content, "b body\n");
    EXPECT_EQ(df.instructions[3].heredocs.at(0).fd, 3);
    EXPECT_EQ(df.instructions[4].line, 13);
    // not a heredoc: JSON form, quoted, here-string
    auto plain = parse_dockerfile("FROM x\nRUN [\"sh\", \"-c\", \"cat <<EOF\"]\n"
                                  "RUN echo \"<<EOF\" <<<word\n");
    EXPECT_TRUE(plain.instructions[1].heredocs.empty());
    EXPECT_TRUE(plain.instructions[2].heredocs.empty());
    EXPECT_NE(parse_failure("FROM x\nRUN <<EOF\necho\n").find("line 2: unterminated heredoc"),
              std::string::npos);
}

TEST(LintParser, OnbuildAndStructureErrors) {
    auto df =
        parse_dockerfile("FROM x:1\nONBUILD RUN --mount=type=cache,target=/c pip install y\n");
    auto& ob = df.instructions[1];
    ASSERT_TRUE(ob.child);
    EXPECT_EQ(ob.child->keyword, "RUN");
    EXPECT_EQ(ob.child->args, "pip install y");
    EXPECT_NE(parse_failure("FROM x\nONBUILD FROM y\n").find("ONBUILD FROM is not allowed"),
              std::string::npos);
    EXPECT_NE(parse_failure("FROM x\nFOO bar\n").find("line 2: unknown instruction: FOO"),
              std::string::npos);
    EXPECT_NE(parse_failure("RUN x\nFROM y\n").find("line 1: RUN before the first FROM"),
              std::string::npos);
    EXPECT_NE(parse_failure("FROM a AS b\nFROM c AS B\n").find("line 2: duplicate stage name"),
              std::string::npos);
    EXPECT_NE(parse_failure("FROM a b\n").find("one or three"), std::string::npos);
    EXPECT_NE(parse_failure("FROM x\nCOPY onlyone\n").find("at least two"), std::string::npos);
    EXPECT_NE(parse_failure("FROM x\nENV A=\"x\n").find("unterminated double quote"),
              std::string::npos);
    EXPECT_NE(parse_failure("# only a comment\n\n").find("no instructions"), std::string::npos);
    EXPECT_NE(parse_failure("FROM x\nRUN\n").find("line 2: RUN requires"), std::string::npos);
    EXPECT_EQ(parse_failure("ARG V=1\nFROM x:${V}\n"), "");
    // shell-form RUN text goes to a shell as it is: an odd quote is the shell's business
    EXPECT_EQ(parse_failure("FROM x\nRUN echo \"it's\nCMD echo 'a\n"), "");
}

TEST(LintWords, Expansion) {
    Env env{{"A", "1"}, {"E", ""}};
    EXPECT_EQ(expand_word("x${A}y$A", env, '\\').value, "x1y1");
    EXPECT_EQ(expand_word("${B:-def}", env, '\\').value, "def");
    EXPECT_TRUE(expand_word("${B:-def}", env, '\\').resolved);
    EXPECT_EQ(expand_word("${E:-def}", env, '\\').value, "def");
    EXPECT_EQ(expand_word("${E-def}", env, '\\').value, "");
    EXPECT_EQ(expand_word("${A:+alt}", env, '\\').value, "alt");
    EXPECT_EQ(expand_word("${B:+alt}", env, '\\').value, "");
    EXPECT_EQ(expand_word("${B:-${A}x}", env, '\\').value, "1x");
    EXPECT_EQ(expand_word("'$A'\"$A\"\\$A", env, '\\').value, "$A1$A");
    auto un = expand_word("img:${NOPE}", env, '\\');
    EXPECT_FALSE(un.resolved);
    EXPECT_EQ(un.unresolved, V{"NOPE"});
    EXPECT_EQ(split_words("a \"b c\" 'd e' f\\ g", '\\'), (V{"a", "\"b c\"", "'d e'", "f\\ g"}));
}

TEST(LintShell, SplitsCommands) {
    auto c = split_commands("apt-get update && apt-get install -y \\\n  curl git; "
                            "pip install 'torch==2.1' | tee log 2>&1 >/dev/null\n"
                            "if [ -f x ]; then rm -rf /var/lib/apt/lists/*; fi # comment && no");
    EXPECT_EQ(argvs(c), (VV{{"apt-get", "update"},
                            {"apt-get", "install", "-y", "curl", "git"},
                            {"pip", "install", "torch==2.1"},
                            {"tee", "log"},
                            {"[", "-f", "x", "]"},
                            {"rm", "-rf", "/var/lib/apt/lists/*"}}));
}

TEST(LintShell, WrappersAssignmentsAndNestedShells) {
    auto c = split_commands("DEBIAN_FRONTEND=noninteractive sudo -E apt-get install -y x && "
                            "env -i PIP_NO_CACHE_DIR=1 pip install y && "
                            "bash -ec \"conda install -y z && conda clean -afy\"");
    ASSERT_EQ(c.size(), 4u);
    EXPECT_EQ(c[0].argv, (V{"apt-get", "install", "-y", "x"}));
    EXPECT_EQ(c[0].assigns, V{"DEBIAN_FRONTEND=noninteractive"});
    EXPECT_EQ(c[1].argv, (V{"pip", "install", "y"}));
    EXPECT_EQ(c[1].assigns, V{"PIP_NO_CACHE_DIR=1"});
    EXPECT_EQ(argvs({c[2], c[3]}),
              (VV{{"conda", "install", "-y", "z"}, {"conda", "clean", "-afy"}}));
    auto e = commands_from_argv({"/bin/sh", "-c", "apt-get update; rm -rf /var/lib/apt/lists"});
    EXPECT_EQ(argvs(e), (VV{{"apt-get", "update"}, {"rm", "-rf", "/var/lib/apt/lists"}}));
}

TEST(LintShell, ShellHeredocBodiesAreSkipped) {
    auto c = split_commands("cat > /etc/x.conf <<'EOF'\napt-get install junk\nEOF\necho ok\n");
    EXPECT_EQ(argvs(c), (VV{{"cat"}, {"echo", "ok"}}));
}

TEST(LintModel, RunHeredocScriptsAreAnalysed) {
    auto df = parse_dockerfile("FROM x:1\nRUN <<EOF\napt-get update\npip install y\nEOF\n"
                               "RUN bash -e <<EOF\nconda install z\nEOF\n"
                               "RUN cat > /f <<EOF\napt-get install not-a-command\nEOF\n");
    EXPECT_EQ(argvs(run_commands(df.instructions[1])),
              (VV{{"apt-get", "update"}, {"pip", "install", "y"}}));
    EXPECT_EQ(argvs(run_commands(df.instructions[2])), (VV{{"conda", "install", "z"}}));
    EXPECT_EQ(argvs(run_commands(df.instructions[3])), (VV{{"cat"}}));
}

TEST(LintModel, StagesArgsAndTarget) {
    auto df = parse_dockerfile("ARG CUDA=12.1.0\nARG FLAVOR\n"
                               "FROM nvidia/cuda:${CUDA}-devel-ubuntu22.04 AS Build\n"
                               "FROM build AS test\n"
                               "FROM nvidia/cuda:${CUDA}-${FLAVOR:-runtime}-ubuntu22.04\n"
                               "FROM registry.local:5000/img:${NOPE}\n");
    auto b = model_build(df, {});
    ASSERT_EQ(b.stages.size(), 4u);
    EXPECT_EQ(b.stages[0].name, "build");
    EXPECT_EQ(b.stages[0].base.resolved, "nvidia/cuda:12.1.0-devel-ubuntu22.04");
    EXPECT_EQ(b.stages[0].base.name, "nvidia/cuda");
    EXPECT_EQ(b.stages[0].base.tag, "12.1.0-devel-ubuntu22.04");
    EXPECT_EQ(b.stages[1].base.stage_ref, 0);
    EXPECT_EQ(b.stages[2].base.resolved, "nvidia/cuda:12.1.0-runtime-ubuntu22.04");
    EXPECT_FALSE(b.stages[3].base.known);
    EXPECT_EQ(b.target, 3);
    EXPECT_EQ(stack_version(b, 1, gantry::gpu_vendors::nvidia::lint_stack()), (std::pair{12, 1}));

    BuildOptions opt;
    opt.build_args["CUDA"] = "11.8.0";
    opt.target = "test";
    auto t = model_build(df, opt);
    EXPECT_EQ(t.stages[0].base.resolved, "nvidia/cuda:11.8.0-devel-ubuntu22.04");
    EXPECT_EQ(t.chain(), (std::vector<int>{1, 0}));
    EXPECT_TRUE(t.stages[0].ships);
    EXPECT_FALSE(t.stages[2].ships);
    opt.target = "nope";
    EXPECT_THROW(model_build(df, opt), Error);
}

} // namespace lint_parser_test
