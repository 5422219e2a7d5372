// oci::RuntimeSpec::from_json's hooks: a caller's config.json (podman's oci-hooks.d, CDI hooks
// injected by containerd) has its six stages read, path, args, env and timeout each. Before:
// none was read, and `gantry oci` ran no hook at all.
#include "oci/runtime_spec.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace oci_runtime_spec_hooks_test {

using gantry::oci::RuntimeSpec;

TEST(RuntimeSpecHooks, AllSixStagesAreReadFromConfigJson) {
    auto j = nlohmann::json::parse(R"({
        "process": {"args": ["true"]}, "root": {"path": "rootfs"},
        "hooks": {
            "prestart": [{"path": "/bin/a", "args": ["a", "1"], "env": ["X=1"], "timeout": 5}],
            "createRuntime": [{"path": "/bin/b"}], "createContainer": [{"path": "/bin/c"}],
            "startContainer": [{"path": "/bin/d"}], "poststart": [{"path": "/bin/e"}],
            "poststop": [{"path": "/bin/f"}, {"path": "/bin/g"}]}})");
    RuntimeSpec s = RuntimeSpec::from_json(j);
    ASSERT_EQ(s.hooks.size(), 6u);
    const auto& pre = s.hooks.at("prestart").at(0);
    EXPECT_EQ(pre.path, "/bin/a");
    EXPECT_EQ(pre.args, (std::vector<std::string>{"a", "1"}));
    EXPECT_EQ(pre.env, (std::vector<std::string>{"X=1"}));
    EXPECT_EQ(pre.timeout, 5);
    EXPECT_FALSE(s.hooks.at("createRuntime").at(0).timeout);
    EXPECT_EQ(s.hooks.at("poststop").size(), 2u);
    EXPECT_EQ(s.hooks.at("poststop").at(1).path, "/bin/g");
    // and written back as they were read
    EXPECT_EQ(RuntimeSpec::from_json(s.to_json()).hooks.at("prestart").at(0).args, pre.args);
}

TEST(RuntimeSpecHooks, WithoutEnvTheRuntimesEnvironmentIsInherited) {
    // runc's Go hook runner: a nil Cmd.Env inherits; "env": [] is an empty environment
    auto j = nlohmann::json::parse(R"({
        "process": {"args": ["true"]}, "root": {"path": "rootfs"},
        "hooks": {"prestart": [{"path": "/bin/a"}, {"path": "/bin/b", "env": []},
                               {"path": "/bin/c", "env": ["X=1"]}]}})");
    RuntimeSpec s = RuntimeSpec::from_json(j);
    const auto& pre = s.hooks.at("prestart");
    EXPECT_TRUE(pre.at(0).inherit_env);
    EXPECT_FALSE(pre.at(1).inherit_env);
    EXPECT_FALSE(pre.at(2).inherit_env);
    const auto back = RuntimeSpec::from_json(s.to_json()).hooks.at("prestart");
    EXPECT_TRUE(back.at(0).inherit_env);
    EXPECT_FALSE(back.at(1).inherit_env);
}

TEST(RuntimeSpecHooks, NoHooksNoStages) {
    auto j = nlohmann::json::parse(R"({"process": {"args": ["true"]}, "root": {"path": "r"}})");
    EXPECT_TRUE(RuntimeSpec::from_json(j).hooks.empty());
}

} // namespace oci_runtime_spec_hooks_test
