// `gantry import --change`: the config-only instructions docker applies, and every other refused
// before anything is read; the history lines `gantry history` shows of an image.
#include "image_build/import.hpp"
#include "store/images.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>

namespace build_import_test {

using namespace gantry;
using nlohmann::json;

TEST(ImportChanges, ConfigInstructionsApplyAsDockersCommit) {
    auto c = image_build::apply_changes(
        {"ENV PATH=/opt/bin:/usr/bin", "WORKDIR /srv", "CMD [\"/bin/sh\", \"-c\", \"echo hi\"]",
         "USER 1000", "EXPOSE 8080", "LABEL a=b", "ONBUILD RUN make", "ENTRYPOINT [\"/init\"]",
         "STOPSIGNAL SIGINT", "VOLUME /data"});
    EXPECT_EQ(c["Env"], json({"PATH=/opt/bin:/usr/bin"}));
    EXPECT_EQ(c["WorkingDir"], "/srv");
    EXPECT_EQ(c["User"], "1000");
    EXPECT_EQ(c["Labels"]["a"], "b");
    EXPECT_TRUE(c["ExposedPorts"].contains("8080/tcp"));
    EXPECT_EQ(c["OnBuild"], json({"RUN make"}));
    EXPECT_EQ(c["Entrypoint"], json({"/init"}));
    EXPECT_EQ(c["StopSignal"], "SIGINT");
    EXPECT_TRUE(c["Volumes"].contains("/data"));
    // ENTRYPOINT after CMD in one import keeps the CMD (it was given here, not inherited)
    EXPECT_EQ(c["Cmd"], json({"/bin/sh", "-c", "echo hi"}));
    EXPECT_EQ(image_build::apply_changes({}), json::object());
}

TEST(ImportChanges, WhatImportDoesNotApplyIsRefusedByName) {
    auto refused = [](const std::string& change) -> std::string {
        try {
            image_build::apply_changes({change});
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::usage) << e.message();
            return e.message();
        }
        return "accepted";
    };
    EXPECT_NE(refused("RUN apt-get update").find("--change RUN: import applies only"),
              std::string::npos);
    EXPECT_NE(refused("COPY a /a").find("--change COPY"), std::string::npos);
    EXPECT_NE(refused("FROM x").find("--change FROM"), std::string::npos);
    EXPECT_NE(refused("CMD a\nENV b=c").find("is not one instruction"), std::string::npos);
    EXPECT_NE(refused("").find("is not one instruction"), std::string::npos);
    EXPECT_NE(refused("ENV").find("--change 'ENV'"), std::string::npos);
}

TEST(CommitChanges, AppliedOverTheContainersConfigWithCommitsList) {
    json base = {{"Env", {"PATH=/usr/bin", "A=1"}}, {"Cmd", {"sh"}}, {"WorkingDir", "/w"}};
    auto c = image_build::apply_commit_changes({"ENV B=$A-2", "EXPOSE 8000", "LABEL x=y"}, base);
    EXPECT_EQ(c["Env"], json({"PATH=/usr/bin", "A=1", "B=1-2"})); // expanded against its Env
    EXPECT_EQ(c["Cmd"], json({"sh"}));
    EXPECT_EQ(c["WorkingDir"], "/w");
    EXPECT_TRUE(c["ExposedPorts"].contains("8000/tcp"));
    // docker's: an ENTRYPOINT change drops the inherited CMD
    EXPECT_FALSE(
        image_build::apply_commit_changes({"ENTRYPOINT [\"/init\"]"}, base).contains("Cmd"));
    for (const char* refused : {"STOPSIGNAL SIGINT", "RUN true", "COPY a /a"}) {
        try {
            image_build::apply_commit_changes({refused}, base);
            ADD_FAILURE() << refused << " was applied";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::usage);
            EXPECT_NE(e.message().find("commit applies only CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, "
                                       "ONBUILD, USER, VOLUME and WORKDIR"),
                      std::string::npos)
                << e.message();
        }
    }
}

TEST(ImageHistory, NewestFirstWithEachLayerMatchedToItsStep) {
    store::Image img;
    auto d = [](char c) { return oci::Digest::parse("sha256:" + std::string(64, c)); };
    img.manifest.layers = {{}, {}};
    img.manifest.layers[0].size = 100;
    img.manifest.layers[1].size = 7;
    img.config.diff_ids = {d('a'), d('b')};
    img.config.history = {{"2024-01-01T00:00:00Z", "ADD rootfs /", "", false},
                          {"2024-01-02T00:00:00Z", "ENV A=1", "", true},
                          {"2024-01-03T00:00:00Z", "RUN make", "", false}};
    auto lines = store::history(img);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0].entry.created_by, "RUN make");
    EXPECT_EQ(lines[0].diff_id, d('b'));
    EXPECT_EQ(lines[0].size, 7);
    EXPECT_FALSE(lines[1].diff_id);
    EXPECT_EQ(lines[2].diff_id, d('a'));
    EXPECT_EQ(lines[2].size, 100);
    // a config without history: a line per layer, nothing known but the layer
    img.config.history.clear();
    lines = store::history(img);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].diff_id, d('b'));
    EXPECT_EQ(lines[0].entry.created_by, "");
    // more layered steps than layers (a damaged config): the extra steps show no layer
    img.config.history = {{"", "a", "", false}, {"", "b", "", false}, {"", "c", "", false}};
    lines = store::history(img);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_FALSE(lines[0].diff_id);
    EXPECT_EQ(lines[1].diff_id, d('b'));
}

} // namespace build_import_test
