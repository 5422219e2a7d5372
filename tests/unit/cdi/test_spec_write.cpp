// cdi/spec_write: JSON and YAML in the Go field order that read back as the same spec.
#include "cdi/spec_read.hpp"
#include "cdi/spec_write.hpp"
#include "cdi_test_support.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace cdi_spec_write_test {

using namespace cdi_test;

TEST(CdiParse, RoundTripsThroughYamlAndJson) {
    auto s = cdi::parse(replace_all(kNctSpec, "{{ .driverRoot }}", "/drv"), cdi::Format::yaml);
    std::string y = cdi::to_yaml(s);
    std::string j = cdi::to_json(s);
    auto from_yaml = cdi::parse(y, cdi::Format::yaml);
    auto from_json = cdi::parse(j, cdi::Format::json);
    EXPECT_EQ(cdi::to_yaml(from_yaml), y);
    EXPECT_EQ(cdi::to_yaml(from_json), y);
    EXPECT_EQ(cdi::to_json(from_yaml), j);
    // JSON is YAML: a JSON spec in a .yaml file loads too.
    EXPECT_EQ(cdi::to_yaml(cdi::parse(j, cdi::Format::yaml)), y);
    // Stable field order (Go struct order) and numeric names quoted.
    EXPECT_LT(y.find("cdiVersion"), y.find("kind"));
    EXPECT_LT(y.find("kind"), y.find("devices"));
    EXPECT_LT(y.find("devices:"), y.find("\ncontainerEdits:"));
    EXPECT_TRUE(contains(y, "name: \"0\"")) << y;
    EXPECT_TRUE(contains(y, "cdiVersion: 0.5.0")) << y;
    EXPECT_LT(j.find("\"cdiVersion\""), j.find("\"kind\""));
    EXPECT_LT(j.find("\"hostPath\""), j.find("\"containerPath\""));
}

TEST(CdiParse, YamlQuotingPreservesAwkwardStrings) {
    cdi::Spec s;
    s.cdi_version = "0.6.0";
    s.kind = "vendor.com/dev";
    std::vector<std::string> values = {"true", "yes",  "no",         "null",  "~",      "0:1",
                                       "12",   "1.5",  "0x10",       "a: b",  "x #y",   "-1",
                                       "- a",  "é ü",  "\"quoted\"", "tab\t", "trail:", "{a}",
                                       "",     "@at",  "*star",      "&amp",  "!bang",  "%p",
                                       "'s'",  "a\nb", ".5",         "1.2.3", "--flag", "K=V"};
    cdi::Device d;
    d.name = "x";
    for (size_t i = 0; i < values.size(); ++i) {
        d.annotations["k" + std::to_string(i)] = values[i];
        d.edits.env.push_back("V" + std::to_string(i) + "=" + values[i]);
    }
    d.edits.hooks.push_back({"createContainer", "/bin/h", values, {}, 5});
    s.devices.push_back(d);
    std::string y = cdi::to_yaml(s);
    auto back = cdi::parse(y, cdi::Format::yaml);
    EXPECT_EQ(back.devices[0].annotations, d.annotations) << y;
    EXPECT_EQ(back.devices[0].edits.env, d.edits.env) << y;
    EXPECT_EQ(back.devices[0].edits.hooks[0].args, values) << y;
    EXPECT_EQ(back.devices[0].edits.hooks[0].timeout, 5);
}

} // namespace cdi_spec_write_test
