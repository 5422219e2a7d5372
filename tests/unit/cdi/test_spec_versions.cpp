// cdi/spec_versions: which content needs which cdiVersion, the lowest version a spec can declare,
// and the cdiVersion problems validation reports.
#include "cdi/spec_read.hpp"
#include "cdi/spec_versions.hpp"
#include "cdi_test_support.hpp"

#include <functional>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace cdi_spec_versions_test {

using namespace cdi_test;

TEST(CdiValidate, VersionTooLowForContent) {
    auto f = parse_failure(R"(cdiVersion: 0.4.0
kind: v.com/c
devices:
- name: a
  containerEdits:
    deviceNodes:
    - path: /dev/a
      hostPath: /dev/b
)");
    EXPECT_TRUE(contains(f.message, "cdiVersion: 0.4.0 is too low: "
                                    "devices[0].containerEdits.deviceNodes[0].hostPath needs at "
                                    "least 0.5.0"))
        << f.message;
    auto n = parse_failure(replace_all(replace_all(kNctSpec, "{{ .driverRoot }}", ""),
                                       "cdiVersion: 0.5.0", "cdiVersion: 0.4.0"));
    EXPECT_TRUE(contains(n.message, "devices[0].name (starts with a non-letter)")) << n.message;
    // The template itself (unreplaced) is not YAML.
    auto tmpl = parse_failure(kNctSpec);
    EXPECT_TRUE(contains(tmpl.message, "invalid YAML at line 9")) << tmpl.message;
    EXPECT_TRUE(contains(n.message, "needs at least 0.5.0")) << n.message;
    auto u = parse_failure(replace_all(kSmall, "0.6.0", "0.9.0"));
    EXPECT_TRUE(contains(u.message, "cdiVersion: unknown version \"0.9.0\"")) << u.message;
    auto old = parse_failure(replace_all(kSmall, "cdiVersion: 0.6.0", "cdiVersion: 0.2.0"));
    EXPECT_TRUE(contains(old.message, "needs at least 0.3.0")) << old.message;
    auto missing = parse_failure(replace_all(kSmall, "cdiVersion: 0.6.0\n", ""));
    EXPECT_TRUE(contains(missing.message, "cdiVersion: missing")) << missing.message;
}

TEST(CdiVersion, MinimumVersionTriggers) {
    auto base = [] {
        cdi::Spec s;
        s.cdi_version = "1.1.0";
        s.kind = "vendor.com/dev";
        cdi::Device d;
        d.name = "dev";
        d.edits.env = {"A=1"};
        s.devices.push_back(d);
        return s;
    };
    struct Case {
        std::function<void(cdi::Spec&)> change;
        const char* version;
    } cases[] = {
        {[](cdi::Spec&) {}, "0.3.0"},
        {[](cdi::Spec& s) {
             s.edits.mounts.push_back({"/a", "/b", {}, "bind"});
         },
         "0.4.0"},
        {[](cdi::Spec& s) {
             s.edits.mounts.push_back({"/a", "/b", {"rbind"}, ""});
         },
         "0.3.0"},
        {[](cdi::Spec& s) { s.devices[0].name = "0"; }, "0.5.0"},
        {[](cdi::Spec& s) {
             s.devices[0].edits.device_nodes.push_back({"/dev/a", "/dev/b"});
         },
         "0.5.0"},
        {[](cdi::Spec& s) { s.devices[0].edits.device_nodes.push_back({"/dev/a"}); }, "0.3.0"},
        {[](cdi::Spec& s) { s.annotations["a"] = "b"; }, "0.6.0"},
        {[](cdi::Spec& s) { s.devices[0].annotations["a"] = "b"; }, "0.6.0"},
        {[](cdi::Spec& s) { s.kind = "vendor.com/dev.v2"; }, "0.6.0"},
        {[](cdi::Spec& s) { s.edits.additional_gids = {5}; }, "0.7.0"},
        {[](cdi::Spec& s) { s.devices[0].edits.intel_rdt = cdi::IntelRdt{}; }, "0.7.0"},
        {[](cdi::Spec& s) {
             s.edits.intel_rdt = cdi::IntelRdt{"c", "", "", {"L3:0=f"}, false};
         },
         "1.1.0"},
        {[](cdi::Spec& s) {
             s.edits.intel_rdt = cdi::IntelRdt{"c", "", "", {}, true};
         },
         "1.1.0"},
        {[](cdi::Spec& s) {
             s.devices[0].edits.net_devices.push_back({"eth0", "net0"});
         },
         "1.1.0"},
    };
    for (size_t i = 0; i < std::size(cases); ++i) {
        auto s = base();
        cases[i].change(s);
        EXPECT_EQ(cdi::minimum_version(s), cases[i].version) << "case " << i;
        EXPECT_TRUE(cdi::validate(s).empty()) << "case " << i << ": " << cdi::validate(s).front();
        s.cdi_version = cases[i].version;
        EXPECT_TRUE(cdi::validate(s).empty()) << "case " << i;
    }
    EXPECT_EQ(cdi::compare_versions("v0.5.0", "0.5.0"), 0);
    EXPECT_EQ(cdi::compare_versions("0.10.0", "0.9.0"), 1);
    EXPECT_EQ(cdi::compare_versions("1.0", "1.0.0"), std::nullopt);
}

TEST(CdiVersion, RequiredVersionNamesTheHighestNeed) {
    cdi::Spec s;
    s.cdi_version = "1.1.0";
    s.kind = "vendor.com/dev";
    s.devices.push_back({"dev", {}, {}});
    s.devices[0].edits.env = {"A=1"};
    auto none = cdi::required_version(s);
    EXPECT_EQ(none.version, "0.3.0");
    EXPECT_EQ(none.field, "the CDI format itself");
    s.devices[0].edits.mounts.push_back({"/a", "/b", {}, "bind"}); // 0.4.0
    s.devices[0].annotations["a"] = "b";                           // 0.6.0
    s.edits.additional_gids = {5};                                 // 0.7.0
    s.annotations["x"] = "y";                                      // 0.6.0, not higher
    auto need = cdi::required_version(s);
    EXPECT_EQ(need.version, "0.7.0");
    EXPECT_EQ(need.field, "containerEdits.additionalGids");
    EXPECT_EQ(cdi::minimum_version(s), "0.7.0");
    // The first field to need the highest version is the one named.
    s.devices[0].edits.additional_gids = {6};
    EXPECT_EQ(cdi::required_version(s).field, "devices[0].containerEdits.additionalGids");
}

TEST(CdiVersion, CheckVersion) {
    cdi::Spec s;
    s.kind = "vendor.com/dev";
    s.devices.push_back({"a", {}, {}});
    s.devices[0].edits.net_devices.push_back({"eth0", "net0"});
    EXPECT_EQ(cdi::check_version(s), std::vector<std::string>{"cdiVersion: missing"});
    s.cdi_version = "2.0.0";
    EXPECT_EQ(cdi::check_version(s),
              std::vector<std::string>{"cdiVersion: unknown version \"2.0.0\" (known: 0.1.0 "
                                       "to 1.1.0)"});
    s.cdi_version = "v1.0.0";
    EXPECT_EQ(
        cdi::check_version(s),
        std::vector<std::string>{"cdiVersion: v1.0.0 is too low: "
                                 "devices[0].containerEdits.netDevices needs at least 1.1.0"});
    s.cdi_version = "v1.1.0";
    EXPECT_TRUE(cdi::check_version(s).empty());
    EXPECT_EQ(cdi::known_versions().front(), "0.1.0");
    EXPECT_EQ(cdi::known_versions().back(), "1.1.0");
}

} // namespace cdi_spec_versions_test
