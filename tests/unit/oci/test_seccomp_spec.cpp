// A bundle's linux.seccomp (oci::SeccompSpec::from_json): every field read, every refusal names
// the field. What the compiled program does: tests/unit/seccomp/test_spec_compiled.cpp.
#include "oci/seccomp_spec.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace oci_seccomp_spec_test {

using gantry::Errc;
using gantry::Error;
using nlohmann::json;
namespace oci = gantry::oci;

namespace {

// The Error from_json throws for J (fails the test when it does not throw).
Error refusal(const json& j) {
    try {
        oci::SeccompSpec::from_json(j);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "accepted: " << j.dump();
    return Error(Errc::internal, "");
}

json deny(const std::string& name, json extra = json::object()) {
    json r{{"names", {name}}, {"action", "SCMP_ACT_ERRNO"}};
    r.update(extra);
    return json{{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {r}}};
}

} // namespace

TEST(SeccompSpec, ParsesEveryField) {
    json j = {
        {"defaultAction", "SCMP_ACT_ERRNO"},
        {"defaultErrnoRet", 38},
        {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}},
        {"flags", {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"}},
        {"listenerMetadata", "ignored without a listener"},
        {"syscalls",
         {{{"names", {"read", "write"}}, {"action", "SCMP_ACT_ALLOW"}},
          {{"names", {"personality"}},
           {"action", "SCMP_ACT_TRACE"},
           {"errnoRet", 5},
           {"args", {{{"index", 0}, {"value", 8}, {"valueTwo", 0}, {"op", "SCMP_CMP_EQ"}}}}}}}};
    auto s = oci::SeccompSpec::from_json(j);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->default_action, oci::ScmpAction::errno_ret);
    EXPECT_EQ(s->default_errno_ret, 38);
    EXPECT_EQ(s->architectures, (std::vector<std::string>{"x86_64", "x86"}));
    EXPECT_EQ(s->flags, oci::kScmpFlagLog);
    ASSERT_EQ(s->rules.size(), 3u); // one per name, as runc's specconv
    EXPECT_EQ(s->rules[1].name, "write");
    EXPECT_EQ(s->rules[2].action, oci::ScmpAction::trace);
    EXPECT_EQ(s->rules[2].errno_ret, 5);
    EXPECT_EQ(s->rules[2].args, (std::vector<oci::ScmpArg>{{0, 8, 0, oci::ScmpOp::eq}}));
}

TEST(SeccompSpec, NoDefaultActionAndNoSyscallsIsNoFilter) {
    EXPECT_FALSE(oci::SeccompSpec::from_json(json::object()));
    EXPECT_FALSE(oci::SeccompSpec::from_json(json{{"syscalls", json::array()}}));
    EXPECT_FALSE(oci::SeccompSpec::from_json(json()));
}

TEST(SeccompSpec, FlagsDefaultToSpecAllowAsRunc) {
    EXPECT_EQ(oci::SeccompSpec::from_json(deny("mkdir"))->flags, oci::kScmpFlagSpecAllow);
    json none = deny("mkdir");
    none["flags"] = json::array();
    EXPECT_EQ(oci::SeccompSpec::from_json(none)->flags, 0u);
}

TEST(SeccompSpec, RefusesWhatIsMalformedNamingTheField) {
    struct Case {
        json j;
        std::string field;
    };
    json base = deny("mkdir");
    auto with = [&](const std::string& key, json v) {
        json j = base;
        j[key] = v;
        return j;
    };
    auto rule = [&](json r) {
        json j = base;
        j["syscalls"] = json::array({r});
        return j;
    };
    auto arg = [&](json a) {
        return rule({{"names", {"mkdir"}}, {"action", "SCMP_ACT_ERRNO"}, {"args", {a}}});
    };
    json seven = json::array();
    for (int i = 0; i < 7; ++i)
        seven.push_back({{"index", 0}, {"value", i}, {"op", "SCMP_CMP_EQ"}});
    const Case cases[] = {
        {json::array(), "linux.seccomp is not an object"},
        {with("defaultAction", "SCMP_ACT_EXPLODE"),
         "linux.seccomp.defaultAction \"SCMP_ACT_EXPLODE\""},
        {with("defaultAction", 3), "linux.seccomp.defaultAction is not a string"},
        {json{{"syscalls", base["syscalls"]}}, "linux.seccomp.defaultAction is missing"},
        {with("defaultErrnoRet", -1), "linux.seccomp.defaultErrnoRet"},
        {with("defaultErrnoRet", 70000), "linux.seccomp.defaultErrnoRet is 70000"},
        {with("architectures", {"SCMP_ARCH_Z80"}),
         "linux.seccomp.architectures[0] \"SCMP_ARCH_Z80\""},
        {with("architectures", "SCMP_ARCH_X86_64"), "linux.seccomp.architectures is not an array"},
        {with("flags", {"SECCOMP_FILTER_FLAG_FAST"}),
         "linux.seccomp.flags[0] \"SECCOMP_FILTER_FLAG_FAST\""},
        {with("syscalls", json::object({{"names", 1}})), "linux.seccomp.syscalls is not an array"},
        {rule({{"action", "SCMP_ACT_ERRNO"}}), "linux.seccomp.syscalls[0].names is missing"},
        {rule({{"names", json::array()}, {"action", "SCMP_ACT_ERRNO"}}),
         "syscalls[0].names is missing or empty"},
        {rule({{"names", {""}}, {"action", "SCMP_ACT_ERRNO"}}), "syscalls[0].names[0] is empty"},
        {rule({{"names", {7}}, {"action", "SCMP_ACT_ERRNO"}}),
         "syscalls[0].names[0] is not a string"},
        {rule({{"names", {"mkdir"}}}), "syscalls[0].action is missing"},
        {rule({{"names", {"mkdir"}}, {"action", "SCMP_ACT_NOPE"}}),
         "syscalls[0].action \"SCMP_ACT_NOPE\""},
        {rule({{"names", {"mkdir"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", "1"}}),
         "syscalls[0].errnoRet is not an unsigned"},
        {rule({{"names", {"mkdir"}}, {"action", "SCMP_ACT_ERRNO"}, {"args", seven}}),
         "syscalls[0].args has 7 conditions"},
        {arg({{"index", 6}, {"value", 1}, {"op", "SCMP_CMP_EQ"}}),
         "syscalls[0].args[0].index is 6, above 5"},
        {arg({{"value", 1}, {"op", "SCMP_CMP_EQ"}}), "syscalls[0].args[0].index is missing"},
        {arg({{"index", 0}, {"value", 1}}), "syscalls[0].args[0].op is missing"},
        {arg({{"index", 0}, {"value", 1}, {"op", "SCMP_CMP_APPROX"}}),
         "syscalls[0].args[0].op \"SCMP_CMP_APPROX\""},
        {arg({{"index", 0}, {"value", -5}, {"op", "SCMP_CMP_EQ"}}),
         "syscalls[0].args[0].value is not an unsigned"},
        {arg(42), "syscalls[0].args[0] is not an object"},
    };
    for (auto& c : cases) {
        Error e = refusal(c.j);
        EXPECT_EQ(e.code(), Errc::invalid) << c.j.dump();
        EXPECT_NE(e.message().find(c.field), std::string::npos) << e.message();
        EXPECT_FALSE(e.hint().empty()) << e.message();
    }
}

TEST(SeccompSpec, RefusesWhatGantryCannotHonour) {
    json notify = deny("mkdir");
    notify["syscalls"][0]["action"] = "SCMP_ACT_NOTIFY";
    json def_notify = deny("mkdir");
    def_notify["defaultAction"] = "SCMP_ACT_NOTIFY";
    json listener = deny("mkdir");
    listener["listenerPath"] = "/run/agent.sock";
    json wait = deny("mkdir");
    wait["flags"] = {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
    const std::vector<std::pair<json, std::string>> cases = {{notify, "SCMP_ACT_NOTIFY"},
                                                             {def_notify, "SCMP_ACT_NOTIFY"},
                                                             {listener, "listenerPath"},
                                                             {wait, "WAIT_KILLABLE_RECV"}};
    for (auto& [j, what] : cases) {
        Error e = refusal(j);
        EXPECT_EQ(e.code(), Errc::unsupported);
        EXPECT_NE(e.message().find(what), std::string::npos) << e.message();
    }
}

} // namespace oci_seccomp_spec_test
