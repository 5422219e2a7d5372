// gantry build's config-only instructions: expansion order (ARG, then ENV over it), ARG values,
// CMD/ENTRYPOINT forms and the created_by each records.
#include "dockerfile/dockerfile.hpp"
#include "image_build/stage_state.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>

namespace build_stage_state_test {

using namespace gantry::image_build;
using nlohmann::json;

namespace {

// Applies every instruction after FROM in text; returns the created_by strings.
std::vector<std::string> run(StageState& st, const std::string& text,
                             const gantry::dockerfile::Env& build_args = {},
                             const gantry::dockerfile::Env& global = {}) {
    auto df = gantry::dockerfile::parse_dockerfile(text);
    std::vector<std::string> out;
    for (const auto& ins : df.instructions) {
        if (ins.keyword == "FROM") continue;
        auto c = st.apply(ins, build_args, global);
        out.push_back(c ? *c : "-");
    }
    return out;
}

} // namespace

TEST(BuildStageState, EnvArgExpansionAndPrecedence) {
    StageState st;
    auto h = run(st,
                 "FROM x\nARG V=arg\nARG G\nARG B=default\nENV A=$V B=${B} C=\"q ${G}\"\n"
                 "ENV V=env\nENV D=$V\nENV OLD legacy form\n",
                 {{"B", "cli"}}, {{"G", "global"}});
    EXPECT_EQ(st.config["Env"],
              json({"A=arg", "B=cli", "C=q global", "V=env", "D=env", "OLD=legacy form"}));
    EXPECT_EQ(h[0], "ARG V=arg");
    EXPECT_EQ(h[3], "ENV A=$V B=${B} C=\"q ${G}\"");
}

TEST(BuildStageState, ConfigInstructions) {
    StageState st;
    st.config["Cmd"] = {"sh"}; // inherited from the base
    auto h = run(st, "FROM x\nENV D=/srv\nWORKDIR $D\nWORKDIR app\nUSER 1000:1000\n"
                     "LABEL a=b \"c d\"=e\nEXPOSE 80 53/udp\nENTRYPOINT [\"/bin/tool\"]\n"
                     "VOLUME /data\nSTOPSIGNAL SIGINT\nRUN true\n");
    EXPECT_EQ(st.config["WorkingDir"], "/srv/app");
    EXPECT_EQ(st.config["User"], "1000:1000");
    EXPECT_EQ(st.config["Labels"], json({{"a", "b"}, {"c d", "e"}}));
    EXPECT_TRUE(st.config["ExposedPorts"].contains("80/tcp"));
    EXPECT_TRUE(st.config["ExposedPorts"].contains("53/udp"));
    EXPECT_EQ(st.config["Entrypoint"], json({"/bin/tool"}));
    EXPECT_FALSE(st.config.contains("Cmd")); // ENTRYPOINT resets an inherited CMD
    EXPECT_TRUE(st.config["Volumes"].contains("/data"));
    EXPECT_EQ(st.config["StopSignal"], "SIGINT");
    EXPECT_EQ(h.back(), "-"); // RUN is the executor's
}

TEST(BuildStageState, ShellFormUsesShell) {
    StageState st;
    run(st, "FROM x\nCMD echo hi\nSHELL [\"/bin/ash\", \"-ec\"]\nENTRYPOINT exec tool\n");
    EXPECT_EQ(st.config["Cmd"], json({"/bin/sh", "-c", "echo hi"})); // set in this stage: kept
    EXPECT_EQ(st.config["Entrypoint"], json({"/bin/ash", "-ec", "exec tool"}));
    StageState bad;
    EXPECT_THROW(run(bad, "FROM x\nSHELL /bin/sh -c\n"), gantry::Error);
    EXPECT_THROW(run(bad, "FROM x\nENV\n"), gantry::Error);
    EXPECT_THROW(run(bad, "FROM x\nENV =x\n"), gantry::Error);
}

TEST(BuildStageState, HistoryAsBuildKitWritesIt) {
    json image = {{"history", json::array()}};
    add_history(image, "ENV A=1", true, 0);
    add_history(image, "RUN /bin/sh -c true # buildkit", false, 1700000000);
    ASSERT_EQ(image["history"].size(), 2u);
    EXPECT_EQ(image["history"][0], json({{"created", "1970-01-01T00:00:00Z"},
                                         {"created_by", "ENV A=1"},
                                         {"comment", "buildkit.dockerfile.v0"},
                                         {"empty_layer", true}}));
    EXPECT_EQ(image["history"][1]["created"], "2023-11-14T22:13:20Z");
    EXPECT_FALSE(image["history"][1].contains("empty_layer"));
}

} // namespace build_stage_state_test

namespace build_stage_state_test {

// WORKDIR as BuildKit records it (issue 36: WORKDIR /../../x exited 125): ".." at / stays at /.
TEST(BuildStageState, WorkdirIsNormalizedAsBuildKitDoes) {
    auto wd = [](const std::string& text) {
        StageState st;
        run(st, "FROM x\n" + text);
        return st.config["WorkingDir"].get<std::string>();
    };
    EXPECT_EQ(wd("WORKDIR /../../x\n"), "/x");
    EXPECT_EQ(wd("WORKDIR /a/./b/../c\n"), "/a/c");
    EXPECT_EQ(wd("WORKDIR /srv/\n"), "/srv/"); // absolute without . or ..: as written
    EXPECT_EQ(wd("WORKDIR /srv\nWORKDIR ../../../y\n"), "/y");
    EXPECT_EQ(wd("WORKDIR /srv\nWORKDIR ./a//b/\n"), "/srv/a/b"); // relative: path.Join
    EXPECT_EQ(wd("WORKDIR ..\n"), "/");
}

// EXPOSE keys are BuildKit's: ranges expanded, protocols lower-cased, bad ports refused.
TEST(BuildStageState, ExposeParsesPorts) {
    StageState st;
    run(st, "FROM x\nEXPOSE 80 8000-8001/UDP\n");
    EXPECT_EQ(st.config["ExposedPorts"], json({{"80/tcp", json::object()},
                                               {"8000/udp", json::object()},
                                               {"8001/udp", json::object()}}));
    StageState bad;
    EXPECT_THROW(run(bad, "FROM x\nEXPOSE 99999999999999999999/tcp\n"), gantry::Error);
}

// The environment and labels an ENV or LABEL line makes are bounded by what a config may hold.
TEST(BuildStageState, EnvAndLabelsStopBeforeTheConfigLimit) {
    StageState st;
    std::string text = "FROM x\nENV V=" + std::string(100000, 'v') + "\n";
    for (int i = 0; i < 700; ++i) text += "LABEL l" + std::to_string(i) + "=$V\n";
    try {
        run(st, text);
        FAIL() << "no config bound";
    } catch (const gantry::Error& e) {
        EXPECT_EQ(e.code(), gantry::Errc::invalid);
        EXPECT_NE(e.message().find("more than an image config may have"), std::string::npos)
            << e.message();
        EXPECT_EQ(e.message().rfind("line ", 0), 0u) << e.message(); // the builder adds FILE:
    }
}

} // namespace build_stage_state_test
