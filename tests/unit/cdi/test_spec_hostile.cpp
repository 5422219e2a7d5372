// cdi: hostile specs found by black-box fuzzing of `gantry cdi validate` (issue 27): JSON nested
// a million levels deep (SIGSEGV: the YAML path had a depth limit, JSON none), and YAML tags
// that contradict their value (`hookName: !!int createContainer` was accepted as a string).
#include "cdi/spec_read.hpp"
#include "cdi_test_support.hpp"
#include "util/json.hpp"

#include <gtest/gtest.h>
#include <string>

namespace cdi_spec_hostile_test {

using namespace cdi_test;

namespace {

std::string json_spec_with_annotations(const std::string& value) {
    return R"({"cdiVersion":"0.6.0","kind":"a.com/b","devices":[{"name":"x",)"
           R"("containerEdits":{"env":["A=1"]}}],"annotations":)" +
           value + "}";
}

std::string nested_objects(std::size_t depth) {
    std::string s;
    for (std::size_t i = 0; i < depth; ++i) s += "{\"a\":";
    return s + "\"v\"" + std::string(depth, '}');
}

const std::string kHookSpec = R"(cdiVersion: 0.6.0
kind: a.com/b
devices:
- name: x
  containerEdits:
    hooks:
    - hookName: HOOKNAME
      path: /bin/true
)";

} // namespace

TEST(CdiHostile, JsonNestedAMillionDeepIsInvalidNotACrash) {
    for (const auto& text :
         {std::string(1'000'000, '[') + std::string(1'000'000, ']'), nested_objects(1'000'000),
          json_spec_with_annotations(nested_objects(1'000'000))}) {
        auto f = parse_failure(text, cdi::Format::json);
        EXPECT_EQ(f.code, Errc::invalid);
        EXPECT_EQ(f.message, "t.yaml: invalid JSON: the document nests deeper than 512 levels");
    }
}

TEST(CdiHostile, JsonAtTheDepthLimitIsReadAndJudgedByTheSchema) {
    // 512 levels in all (the spec object, annotations, then 510 more): parsed, then refused by
    // the schema (annotations map strings to strings), the near miss of the depth limit
    auto f =
        parse_failure(json_spec_with_annotations(nested_objects(gantry::safe_json::kMaxDepth - 2)),
                      cdi::Format::json);
    EXPECT_EQ(f.code, Errc::invalid);
    EXPECT_TRUE(contains(f.message, "annotations.a: expected a string, found an object"))
        << f.message;
}

TEST(CdiHostile, YamlTagThatContradictsItsValueNamesFieldAndLine) {
    auto f = parse_failure(replace_all(kHookSpec, "HOOKNAME", "!!int createContainer"));
    EXPECT_EQ(f.code, Errc::invalid);
    EXPECT_EQ(f.message, "t.yaml: devices[0].containerEdits.hooks[0].hookName: YAML tag !!int "
                         "does not fit \"createContainer\" (line 7)");
    for (const char* bad :
         {"!!bool createContainer", "!!float createContainer", "!!null createContainer",
          "!!binary createContainer", "!custom createContainer", "!!map createContainer"}) {
        auto g = parse_failure(replace_all(kHookSpec, "HOOKNAME", bad));
        EXPECT_TRUE(contains(g.message, "hooks[0].hookName: YAML tag !")) << bad << g.message;
        EXPECT_TRUE(contains(g.message, "(line 7)")) << g.message;
    }
    auto seq = parse_failure(replace_all(kHookSpec, "    hooks:\n", "    hooks: !!map\n"));
    EXPECT_TRUE(contains(seq.message, "containerEdits.hooks: YAML tag !!map does not fit a "
                                      "sequence (line 6)"))
        << seq.message;
}

TEST(CdiHostile, YamlTagsThatFitTheirValueAreAccepted) {
    for (const char* ok : {"!!str createContainer", "! createContainer", "createContainer",
                           "!!str \"createContainer\""}) {
        auto s = cdi::parse(replace_all(kHookSpec, "HOOKNAME", ok), cdi::Format::yaml, "t.yaml");
        ASSERT_EQ(s.devices.size(), 1u) << ok;
        EXPECT_EQ(s.devices[0].edits.hooks.at(0).hook_name, "createContainer") << ok;
    }
    // a tag that fits is fine where the schema wants its type: !!int on an integer field
    auto t = cdi::parse(R"(cdiVersion: 0.6.0
kind: a.com/b
devices:
- name: x
  containerEdits:
    deviceNodes:
    - path: /dev/x
      major: !!int 12
      minor: !!int "3"
)",
                        cdi::Format::yaml, "t.yaml");
    EXPECT_EQ(t.devices[0].edits.device_nodes.at(0).major, 12);
    EXPECT_EQ(t.devices[0].edits.device_nodes.at(0).minor, 3);
}

} // namespace cdi_spec_hostile_test
