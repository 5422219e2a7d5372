// image_build/definition: a definition file becomes the builder's instructions (FROM, COPY,
// RUN, LABEL, ENTRYPOINT/CMD) with its own line numbers, and Apptainer's /.singularity.d files
// in a directory copied in as a named context; make_plan accepts what it makes.
#include "deffile/deffile.hpp"
#include "image_build/definition.hpp"
#include "image_build/plan.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <filesystem>
#include <gtest/gtest.h>

namespace image_build_definition_test {

namespace stdfs = std::filesystem;
using gantry::Error;
namespace ib = gantry::image_build;

struct DefinitionTest : ::testing::Test {
    stdfs::path dir = stdfs::temp_directory_path() / ("gantry-def-" + gantry::fs::unique_name());
    void SetUp() override { stdfs::create_directories(dir / "meta"); }
    void TearDown() override { stdfs::remove_all(dir); }

    ib::DefinitionPlan plan(const std::string& text, bool test = true) {
        auto def = gantry::deffile::parse(text, "app.def");
        ib::DefinitionOptions o;
        o.file = "app.def";
        o.context = dir;
        o.meta_dir = dir / "meta";
        o.test = test;
        o.base = [](const gantry::deffile::Stage& st) { return "base/" + st.value("from"); };
        return ib::plan_definition(def, o);
    }
};

TEST_F(DefinitionTest, InstructionsInApptainersOrder) {
    auto p = plan("Bootstrap: docker\nFrom: py:3\nStage: build\n%post\n  make\n"
                  "Bootstrap: docker\nFrom: py:3-slim\n%files\n  a.txt\n  " +
                  (dir / "conf").string() +
                  " /etc/x/\n%files from build\n  /out /opt/$HOME\n"
                  "%post -c /bin/bash -l\n  echo hi\n%environment\n  export A=1\n"
                  "%runscript\n  exec app\n%labels\n  Team \"gpu\" $x\n%test\n  app --check\n");
    const auto& ins = p.instructions.instructions;
    std::vector<std::string> kinds;
    for (const auto& i : ins) kinds.push_back(i.keyword + ":" + std::to_string(i.line));
    // each stage's docker environment file (RUN at its Bootstrap line) before its %post
    EXPECT_EQ(kinds, (std::vector<std::string>{"FROM:1", "RUN:1", "RUN:4", "FROM:6", "COPY:12",
                                               "COPY:9", "COPY:10", "RUN:6", "RUN:13", "COPY:21",
                                               "LABEL:19", "ENTRYPOINT:17", "CMD:17"}));
    EXPECT_EQ(ins[0].args, "base/py:3 AS build");
    const std::string prelude = "cd /\nmkdir -p /.singularity.d/env\nexport "
                                "APPTAINER_ENVIRONMENT=/.singularity.d/env/91-environment.sh "
                                "SINGULARITY_ENVIRONMENT=/.singularity.d/env/91-environment.sh\n";
    EXPECT_NE(ins[1].json_args.back().find("10-docker2singularity.sh"), std::string::npos);
    EXPECT_EQ(ins[2].json_args,
              (std::vector<std::string>{"/bin/sh", "-ex", "-c", prelude + "  make\n"}));
    // %files from first; $ kept literally for the builder's expansion
    EXPECT_EQ(ins[4].flag("from")->value, "build");
    EXPECT_EQ(ins[4].json_args, (std::vector<std::string>{"/out", "/opt/\\$HOME"}));
    EXPECT_EQ(ins[5].json_args, (std::vector<std::string>{"a.txt", "/a.txt"}));
    EXPECT_EQ(ins[6].json_args, (std::vector<std::string>{"conf", "/etc/x/"}));
    EXPECT_EQ(ins[8].json_args,
              (std::vector<std::string>{"/bin/bash", "-l", "-c", prelude + "  echo hi\n"}));
    EXPECT_EQ(ins[9].flag("from")->value, "gantry-def-meta-1");
    EXPECT_EQ(ins[10].args, "\"Team\"=\"\\\"gpu\\\" \\$x\" ");
    EXPECT_EQ(ins[12].json_args, (std::vector<std::string>{"/.singularity.d/runscript"}));
    // the files
    auto meta = stdfs::path(p.contexts.at("gantry-def-meta-1")) / ".singularity.d";
    EXPECT_EQ(gantry::fs::read_file(meta / "env/90-environment.sh", 1 << 20),
              "#!/bin/sh\n# Custom environment shell code should follow\n\n  export A=1\n");
    EXPECT_EQ(gantry::fs::read_file(meta / "runscript", 1 << 20), "#!/bin/sh\n\n  exec app\n");
    EXPECT_TRUE(stdfs::exists(meta / "test"));
    EXPECT_NE(
        gantry::fs::read_file(meta / "labels.json", 1 << 20).find("\"Team\": \"\\\"gpu\\\" $x\""),
        std::string::npos);
    EXPECT_EQ(stdfs::status(meta / "runscript").permissions() & stdfs::perms::owner_exec,
              stdfs::perms::owner_exec);
    EXPECT_EQ(p.contexts.count("gantry-def-meta-0"), 0u); // the first stage has none
    // %runscript: no prefix; %test is run
    EXPECT_TRUE(p.entrypoint_prefix.empty());
    ASSERT_FALSE(p.test_argv.empty());
    EXPECT_EQ(p.test_argv.back(), "/.singularity.d/test");
    // the builder's planner takes it
    ib::PlanOptions po;
    po.file = "app.def";
    auto plan = ib::make_plan(p.instructions, po);
    EXPECT_EQ(plan.stages.size(), 2u);
    EXPECT_EQ(plan.order, (std::vector<int>{0, 1}));
}

TEST_F(DefinitionTest, EnvironmentWithoutRunscriptPrefixesTheEntrypoint) {
    auto p = plan("Bootstrap: scratch\n%environment\n  export A=1\n%test\n  true\n", false);
    EXPECT_EQ(p.instructions.instructions[0].args, "scratch");
    EXPECT_FALSE(p.entrypoint_prefix.empty());
    EXPECT_TRUE(p.test_argv.empty()); // --notest
}

// Apptainer 1.x runs %pre on the host before the base is fetched, then %setup after %files
// from stages (internal/pkg/build/build.go, Full): each one COPY of what it wrote, none when it
// wrote nothing
TEST_F(DefinitionTest, PreRunsBeforeTheBaseAndSetup) {
    auto def = gantry::deffile::parse(
        "Bootstrap: docker\nFrom: a\n%setup\n  s\n%pre\n  p\n%post\n  true\n", "app.def");
    std::vector<std::string> ran;
    ib::DefinitionOptions o;
    o.file = "app.def";
    o.context = dir;
    o.meta_dir = dir / "meta";
    o.base = [&](const gantry::deffile::Stage& st) {
        ran.push_back("base");
        return "base/" + st.value("from");
    };
    o.setup = [&](const gantry::deffile::Section& s, const stdfs::path& rootfs) {
        ran.push_back(s.name);
        if (s.name == "pre") gantry::fs::write_atomic(rootfs / "p", "x");
    };
    auto p = ib::plan_definition(def, o);
    EXPECT_EQ(ran, (std::vector<std::string>{"pre", "base", "setup"}));
    const auto& ins = p.instructions.instructions;
    ASSERT_GE(ins.size(), 2u);
    EXPECT_EQ(ins[0].keyword, "FROM");
    EXPECT_EQ(ins[1].keyword, "COPY");
    EXPECT_EQ(ins[1].flag("from")->value, "gantry-def-pre-0");
    EXPECT_EQ(p.contexts.count("gantry-def-setup-0"), 0u); // %setup wrote nothing
}

TEST_F(DefinitionTest, Refusals) {
    auto says = [&](const std::string& text, const std::string& what) {
        try {
            plan(text);
            ADD_FAILURE() << "accepted " << text;
        } catch (const Error& e) {
            EXPECT_NE(e.message().find(what), std::string::npos) << e.message();
        }
    };
    says("Bootstrap: docker\nFrom: a\n%files from nowhere\n  /x\n",
         "app.def:3: %files from nowhere: no earlier stage is named so");
    // (a host path outside the context is read from the host, as Apptainer's: test_deffile.py)
    says("Bootstrap: docker\nFrom: a\n%files\n  *.txt\n",
         "app.def:4: %files *.txt has no destination");
}

} // namespace image_build_definition_test
