// cdi/spec_read: strict parsing (every field known, every type right, every message a field
// path with its line), and validation of everything a loadable spec keeps.
#include "cdi/spec_read.hpp"
#include "cdi/spec_write.hpp"
#include "cdi_test_support.hpp"

#include <exception>
#include <gtest/gtest.h>
#include <random>
#include <string>

namespace cdi_spec_read_test {

using namespace cdi_test;

// ----------------------------------------------------------------------------------- parsing

TEST(CdiParse, ReferenceNctSpecParses) {
    for (std::string root : {"", "/run/nvidia/driver"}) {
        auto s = cdi::parse(replace_all(kNctSpec, "{{ .driverRoot }}", root), cdi::Format::yaml);
        EXPECT_EQ(s.cdi_version, "0.5.0");
        EXPECT_EQ(s.kind, "example.com/device");
        EXPECT_EQ(s.vendor(), "example.com");
        EXPECT_EQ(s.class_name(), "device");
        ASSERT_EQ(s.devices.size(), 2u);
        EXPECT_EQ(s.devices[0].name, "0");
        EXPECT_EQ(s.devices[1].name, "all");
        EXPECT_EQ(s.devices[0].edits.device_nodes[0].host_path, root + "/dev/nvidia0");
        EXPECT_EQ(s.edits.env.size(), 2u);
        ASSERT_EQ(s.edits.hooks.size(), 5u);
        EXPECT_EQ(s.edits.hooks[2].args.back(), "/lib/x86_64-linux-gnu/vdpau");
        EXPECT_EQ(s.edits.hooks[0].env, std::vector<std::string>{"NVIDIA_CTK_DEBUG=false"});
        ASSERT_EQ(s.edits.mounts.size(), 2u);
        EXPECT_EQ(s.edits.mounts[1].options,
                  (std::vector<std::string>{"ro", "nosuid", "nodev", "rbind", "rprivate"}));
        EXPECT_EQ(cdi::minimum_version(s), "0.5.0");
        EXPECT_TRUE(cdi::validate(s).empty());
    }
}

TEST(CdiParse, HistoricalSpecParses) {
    auto s = cdi::parse(kHistoricalSpec, cdi::Format::yaml);
    EXPECT_EQ(s.edits.device_nodes.size(), 4u);
    EXPECT_EQ(s.edits.hooks[1].args[4], "755");
    EXPECT_EQ(s.edits.mounts[0].type, "bind");
    EXPECT_EQ(cdi::minimum_version(s), "0.4.0");
}

TEST(CdiParse, PlainScalarsReadAsStringsAndNumbers) {
    auto s = cdi::parse(R"(cdiVersion: v0.5.0
kind: vendor.com/dev
devices:
- name: 0
  containerEdits:
    deviceNodes:
    - path: /dev/x
      type: c
      major: 195
      minor: 0x10
      fileMode: 0666
      uid: 1000
)",
                        cdi::Format::yaml);
    EXPECT_EQ(s.devices[0].name, "0");
    const auto& n = s.devices[0].edits.device_nodes[0];
    EXPECT_EQ(n.major, 195);
    EXPECT_EQ(n.minor, 16);
    EXPECT_EQ(n.file_mode, 0666u); // YAML 1.1 octal, as go-yaml reads it
    EXPECT_EQ(n.uid, 1000u);
    EXPECT_FALSE(n.gid.has_value());
}

TEST(CdiParse, FieldNamesMatchCaseInsensitivelyLikeGo) {
    auto s = cdi::parse(R"({"cdiVersion":"0.7.0","Kind":"vendor.com/dev","devices":[{"name":"a",
        "containerEdits":{"additionalGIDs":[5]}}]})",
                        cdi::Format::json);
    EXPECT_EQ(s.kind, "vendor.com/dev");
    EXPECT_EQ(s.devices[0].edits.additional_gids, std::vector<std::uint32_t>{5});
}

TEST(CdiParse, UnknownFieldNamesItsPath) {
    std::string bad = kSmall;
    bad = replace_all(bad, "    - hostPath: /x", "    - hostpat: /x");
    auto f = parse_failure(bad);
    EXPECT_EQ(f.code, Errc::invalid);
    EXPECT_TRUE(contains(f.message, "t.yaml: devices[2].containerEdits.mounts[0].hostpat: "
                                    "unknown field (line 13)"))
        << f.message;

    auto j = parse_failure(
        R"({"cdiVersion":"0.3.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":
           {"env":["A=1"],"deviceNodes":[{"path":"/dev/a","majr":1}]}}]})",
        cdi::Format::json);
    EXPECT_TRUE(contains(j.message, "devices[0].containerEdits.deviceNodes[0].majr: unknown field"))
        << j.message;

    auto top = parse_failure(kSmall + "extra: 1\n");
    EXPECT_TRUE(contains(top.message, "extra: unknown field (line 15)")) << top.message;

    // Fields upstream dropped in 1.1.0 are unknown now.
    auto rdt = parse_failure(R"(cdiVersion: 0.7.0
kind: v.com/c
devices: [{name: a, containerEdits: {intelRdt: {closID: x, enableCMT: true}}}]
)");
    EXPECT_TRUE(
        contains(rdt.message, "devices[0].containerEdits.intelRdt.enableCMT: unknown field"))
        << rdt.message;
}

TEST(CdiParse, WrongTypesNameTheField) {
    auto f = parse_failure(replace_all(kSmall, "    env: [A=1]", "    env: A=1"));
    EXPECT_TRUE(
        contains(f.message, "devices[0].containerEdits.env: expected a list, found a string"))
        << f.message;
    auto m = parse_failure(R"(cdiVersion: 0.3.0
kind: v.com/c
devices:
- name: a
  containerEdits:
    deviceNodes:
    - path: /dev/a
      major: "12"
)");
    EXPECT_TRUE(contains(m.message,
                         "devices[0].containerEdits.deviceNodes[0].major: expected an integer, "
                         "found a string (line 8)"))
        << m.message;
    auto u = parse_failure(R"(cdiVersion: 0.7.0
kind: v.com/c
devices: [{name: a, containerEdits: {additionalGids: [-1]}}]
)");
    EXPECT_TRUE(contains(u.message, "devices[0].containerEdits.additionalGids[0]: -1 is out of "
                                    "range for uint32"))
        << u.message;
    auto o = parse_failure("- a\n- b\n");
    EXPECT_TRUE(contains(o.message, "expected an object at the top")) << o.message;
    auto e = parse_failure("");
    EXPECT_TRUE(contains(e.message, "empty document")) << e.message;
}

TEST(CdiParse, DuplicateFieldsAreRejected) {
    auto f = parse_failure(kSmall + "kind: other.com/x\n");
    EXPECT_TRUE(contains(f.message, "kind: duplicate field")) << f.message;
    auto j = parse_failure(R"({"cdiVersion":"0.3.0","kind":"a.com/b","kind":"a.com/c"})",
                           cdi::Format::json);
    EXPECT_TRUE(contains(j.message, "kind: duplicate field")) << j.message;
}

TEST(CdiParse, InvalidSyntax) {
    auto y = parse_failure("cdiVersion: 0.3.0\nkind: [a, b\ndevices: x\n");
    EXPECT_EQ(y.code, Errc::invalid);
    EXPECT_TRUE(contains(y.message, "t.yaml: invalid YAML at line")) << y.message;
    auto j = parse_failure(R"({"cdiVersion": "0.3.0",})", cdi::Format::json);
    EXPECT_TRUE(contains(j.message, "invalid JSON")) << j.message;
    EXPECT_TRUE(contains(j.message, "line 1")) << j.message;
}

// -------------------------------------------------------------------------------- validation

TEST(CdiValidate, Kinds) {
    for (const char* k : {"nvidia.com", "1nvidia.com/gpu", "nvidia.com/gpu/x", "nvidia.com/",
                          "/gpu", "nvidia.com/gpu-", "nvid ia.com/gpu"}) {
        auto f = parse_failure(replace_all(kSmall, "vendor.com/dev", k));
        EXPECT_TRUE(contains(f.message, "t.yaml: kind: ")) << k << ": " << f.message;
    }
    auto f = parse_failure(replace_all(kSmall, "vendor.com/dev", "1nvidia.com/gpu"));
    EXPECT_TRUE(contains(f.message, "should start with a letter")) << f.message;
    for (const char* k : {"nvidia.com/gpu", "a/b", "a_b.c-d/e_f-9", "x/gpu.v2"})
        EXPECT_EQ(cdi::check_kind(k), "") << k;
}

TEST(CdiValidate, DeviceNames) {
    for (const char* n : {"gpu/0", "-a", "a-", "a b", "a=b", "\"\""}) {
        auto f = parse_failure(replace_all(kSmall, "- name: b", std::string("- name: ") + n));
        EXPECT_TRUE(contains(f.message, "devices[1].name: ")) << n << ": " << f.message;
    }
    for (const char* n : {"0", "0:1", "GPU-9a2b", "all", "a.b_c-d:e", "x"})
        EXPECT_EQ(cdi::check_device_name(n), "") << n;
}

TEST(CdiValidate, DuplicateDevice) {
    auto f = parse_failure(replace_all(kSmall, "- name: c", "- name: a"));
    EXPECT_TRUE(
        contains(f.message, "devices[2].name: duplicate device name \"a\" (also devices[0])"))
        << f.message;
}

TEST(CdiValidate, Hooks) {
    auto with_hook = [](const std::string& body) {
        return "cdiVersion: 0.3.0\nkind: v.com/c\ndevices:\n- name: a\n  containerEdits:\n"
               "    hooks:\n    - " +
               body + "\n";
    };
    auto n = parse_failure(with_hook("{hookName: preStart, path: /bin/x}"));
    EXPECT_TRUE(contains(n.message, "devices[0].containerEdits.hooks[0].hookName: invalid hook "
                                    "name \"preStart\""))
        << n.message;
    auto p = parse_failure(with_hook("{hookName: prestart, path: bin/x}"));
    EXPECT_TRUE(contains(p.message, "devices[0].containerEdits.hooks[0].path: \"bin/x\" is not "
                                    "an absolute path"))
        << p.message;
    auto t = parse_failure(with_hook("{hookName: poststop, path: /bin/x, timeout: 0}"));
    EXPECT_TRUE(contains(t.message, "hooks[0].timeout: 0 is not a positive number")) << t.message;
    auto e = parse_failure(with_hook("{hookName: poststop, path: /bin/x, env: [NOEQUALS]}"));
    EXPECT_TRUE(contains(e.message, "hooks[0].env[0]: \"NOEQUALS\" is not KEY=VALUE")) << e.message;
    auto missing = parse_failure(with_hook("{hookName: poststop}"));
    EXPECT_TRUE(contains(missing.message, "hooks[0].path: missing")) << missing.message;
    for (const char* ok : {"prestart", "createRuntime", "createContainer", "startContainer",
                           "poststart", "poststop"})
        EXPECT_NO_THROW(
            cdi::parse(with_hook(std::string("{hookName: ") + ok + ", path: /bin/x, timeout: 3}"),
                       cdi::Format::yaml));
}

TEST(CdiValidate, EditsAndNodes) {
    auto with_edits = [](const std::string& edits) {
        return "cdiVersion: 0.7.0\nkind: v.com/c\ndevices:\n- name: a\n  containerEdits: " + edits +
               "\n";
    };
    struct Case {
        const char* edits;
        const char* expect;
    } cases[] = {
        {"{env: [\"=x\"]}", "devices[0].containerEdits.env[0]: \"=x\" is not KEY=VALUE"},
        {"{deviceNodes: [{path: /dev/a, type: x}]}",
         "deviceNodes[0].type: invalid device type \"x\""},
        {"{deviceNodes: [{path: dev/a}]}", "deviceNodes[0].path: \"dev/a\" is not an absolute"},
        {"{deviceNodes: [{type: c}]}", "deviceNodes[0].path: missing"},
        {"{deviceNodes: [{path: /dev/a, permissions: rwx}]}",
         "deviceNodes[0].permissions: invalid permissions \"rwx\""},
        {"{mounts: [{hostPath: /a, containerPath: b}]}",
         "mounts[0].containerPath: \"b\" is not an absolute path"},
        {"{mounts: [{containerPath: /b}]}", "mounts[0].hostPath: missing"},
        {"{mounts: [{hostPath: a, containerPath: /b, options: [rbind]}]}",
         "mounts[0].hostPath: \"a\" is not an absolute path"},
        {"{}", "devices[0].containerEdits: empty"},
        {"{intelRdt: {closID: ../x}}", "intelRdt.closID: invalid"},
    };
    for (const auto& c : cases) {
        auto f = parse_failure(with_edits(c.edits));
        EXPECT_TRUE(contains(f.message, c.expect)) << c.edits << ": " << f.message;
    }
    // Non-bind mounts may name a source that is not a path.
    EXPECT_NO_THROW(cdi::parse(with_edits("{mounts: [{hostPath: tmpfs, containerPath: /t, type: "
                                          "tmpfs}]}"),
                               cdi::Format::yaml));
    EXPECT_NO_THROW(cdi::parse(with_edits("{deviceNodes: [{path: /dev/a, permissions: none}]}"),
                               cdi::Format::yaml));
}

TEST(CdiValidate, ReportsEveryProblem) {
    cdi::Spec s;
    s.cdi_version = "0.3.0";
    s.kind = "bad";
    s.devices.push_back({"-x", {}, {}});
    s.devices.push_back({"-x", {}, {}});
    auto problems = cdi::validate(s);
    EXPECT_GE(problems.size(), 5u);
    auto f = failure_of([&] { cdi::parse(cdi::to_yaml(s), cdi::Format::yaml, "f.yaml"); });
    ASSERT_TRUE(f);
    EXPECT_TRUE(contains(f->message, "more problems")) << f->message;
    s.devices.clear();
    EXPECT_TRUE(contains(cdi::validate(s).back() + cdi::validate(s).front(), "kind"));
    bool no_devices = false;
    for (auto& p : cdi::validate(s)) no_devices |= contains(p, "devices: no devices");
    EXPECT_TRUE(no_devices);
}

TEST(CdiParse, HostileTextOnlyEverThrowsError) {
    // Specs are untrusted: any mutation of a valid spec, YAML or JSON, parses or fails with
    // gantry's Error (a message naming what is wrong), never another exception or a crash.
    const std::string yaml = replace_all(kNctSpec, "{{ .driverRoot }}", "/drv");
    const std::string json = cdi::to_json(cdi::parse(yaml, cdi::Format::yaml));
    std::mt19937_64 rng(11);
    static const char symbols[] = "\0\n\t :-[]{}\"'&*!|>#,0123456789aZ.\\/\xff\xc2";
    const std::string alphabet(symbols, sizeof symbols - 1); // the NUL too
    size_t parsed = 0;
    for (int i = 0; i < 3000; ++i) {
        const bool is_json = i % 2;
        std::string s = is_json ? json : yaml;
        for (int k = 1 + static_cast<int>(rng() % 6); k > 0 && !s.empty(); --k) {
            size_t at = rng() % s.size();
            switch (rng() % 3) {
            case 0:
                s[at] = alphabet[rng() % alphabet.size()];
                break;
            case 1:
                s.erase(at, 1 + rng() % 8);
                break;
            default:
                s.insert(at, s.substr(rng() % s.size(), 1 + rng() % 16));
            }
        }
        if (rng() % 8 == 0 && !s.empty()) s.resize(rng() % s.size());
        auto format = is_json ? cdi::Format::json : cdi::Format::yaml;
        try {
            cdi::parse(s, format, "fuzz");
            ++parsed;
        } catch (const Error& e) {
            EXPECT_TRUE(e.message().starts_with("fuzz: ")) << e.message();
        } catch (const std::exception& e) {
            ADD_FAILURE() << "not a gantry::Error: " << e.what() << "\n" << s;
        }
    }
    EXPECT_GT(parsed, 0u); // some mutations stay valid (a changed path, a digit)
}

} // namespace cdi_spec_read_test
