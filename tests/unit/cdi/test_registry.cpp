// cdi/registry: spec directories (priorities, conflicts, unresolvable names) and applying edits
// to an OCI runtime spec in CDI order.
#include "cdi/registry.hpp"
#include "cdi_test_support.hpp"
#include "oci/runtime_spec.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace cdi_registry_test {

using namespace cdi_test;

namespace oci = gantry::oci;

// ---------------------------------------------------------------------------------- registry

namespace {

std::string spec_text(const std::string& kind, const std::vector<std::string>& names,
                      const std::string& tag) {
    std::string s = "cdiVersion: 0.3.0\nkind: " + kind + "\ndevices:\n";
    for (const auto& n : names)
        s += "- name: " + n + "\n  containerEdits:\n    env: [FROM_" + n + "=" + tag + "]\n";
    return s;
}

std::string env_of(const cdi::Selected& s) {
    return s.device->edits.env.at(0);
}

} // namespace

TEST(CdiRegistry, LaterDirectoryWins) {
    TempDir t;
    t.write("etc/a.yaml", spec_text("vendor.com/dev", {"a", "b"}, "etc"));
    t.write("run/b.json", R"({"cdiVersion":"0.3.0","kind":"vendor.com/dev","devices":[
        {"name":"a","containerEdits":{"env":["FROM_a=run"]}}]})");
    t.write("run/ignored.yml", "not: [a spec");
    t.write("run/notes.txt", "hello");
    cdi::Registry reg({t.str() + "/etc", t.str() + "/run", t.str() + "/missing"});
    EXPECT_TRUE(reg.errors().empty()) << reg.errors().front();
    EXPECT_EQ(reg.specs().size(), 2u);
    EXPECT_EQ(env_of(*reg.resolve("vendor.com/dev=a")), "FROM_a=run");
    EXPECT_EQ(env_of(*reg.resolve("vendor.com/dev=b")), "FROM_b=etc");
    EXPECT_EQ(reg.device_names(),
              (std::vector<std::string>{"vendor.com/dev=b", "vendor.com/dev=a"}));
    EXPECT_FALSE(reg.resolve("vendor.com/dev=c"));
    EXPECT_FALSE(reg.resolve("not a name"));
}

TEST(CdiRegistry, SamePriorityDuplicatesConflict) {
    TempDir t;
    t.write("etc/one.yaml", spec_text("vendor.com/dev", {"x", "y"}, "one"));
    t.write("etc/two.yaml", spec_text("vendor.com/dev", {"x", "z"}, "two"));
    t.write("etc/broken.yaml", spec_text("vendor.com/dev", {"w"}, "b") + "bogus: 1\n");
    cdi::Registry reg({t.str() + "/etc"});
    ASSERT_EQ(reg.errors().size(), 2u);
    std::string all = reg.errors()[0] + "\n" + reg.errors()[1];
    EXPECT_TRUE(contains(all, "broken.yaml: bogus: unknown field")) << all;
    EXPECT_TRUE(contains(all, "conflicting device vendor.com/dev=x in " + t.str() +
                                  "/etc/one.yaml and " + t.str() + "/etc/two.yaml"))
        << all;
    EXPECT_FALSE(reg.resolve("vendor.com/dev=x"));
    EXPECT_TRUE(reg.resolve("vendor.com/dev=y"));
    EXPECT_TRUE(reg.resolve("vendor.com/dev=z"));
    EXPECT_FALSE(reg.resolve("vendor.com/dev=w"));

    // A definition of higher priority settles the tie.
    t.write("run/three.yaml", spec_text("vendor.com/dev", {"x"}, "three"));
    cdi::Registry reg2({t.str() + "/etc", t.str() + "/run"});
    EXPECT_EQ(env_of(*reg2.resolve("vendor.com/dev=x")), "FROM_x=three");
}

TEST(CdiRegistry, UnresolvableNamesListedWithDirs) {
    TempDir t;
    t.write("etc/a.yaml", spec_text("vendor.com/dev", {"a"}, "etc"));
    cdi::Registry reg({t.str() + "/etc", t.str() + "/run"});
    oci::RuntimeSpec rs;
    rs.env = {"PATH=/bin"};
    auto f = failure_of([&] {
        reg.apply(rs, {"vendor.com/dev=a", "vendor.com/dev=nope", "other.com/x=1"});
    });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::not_found);
    EXPECT_TRUE(contains(f->message, "unresolvable CDI devices vendor.com/dev=nope, "
                                     "other.com/x=1 (searched " +
                                         t.str() + "/etc, " + t.str() + "/run)"))
        << f->message;
    EXPECT_EQ(rs.env, std::vector<std::string>{"PATH=/bin"});
    auto bad = failure_of([&] { reg.apply(rs, {"/dev/nvidia0"}); });
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->code, Errc::invalid);
    EXPECT_TRUE(contains(bad->message, "not a CDI device name")) << bad->message;
}

// Both doors' names (run's --device, gantry oci's annotations) through apply_device_names: the
// extra directories searched after the default ones, and a malformed name refused with the
// door's own kind of error before anything is read.
TEST(CdiRegistry, DeviceNamesOfEveryDoor) {
    TempDir t;
    t.write("extra/a.yaml", spec_text("vendor.com/dev", {"a"}, "extra"));
    oci::RuntimeSpec rs;
    rs.env = {"PATH=/bin"};
    auto res = cdi::apply_device_names(rs, {"vendor.com/dev=a"}, {t.str() + "/extra"}, {},
                                       {"--device", Errc::usage, "fix"});
    EXPECT_TRUE(res.warnings.empty());
    EXPECT_EQ(rs.env, (std::vector<std::string>{"PATH=/bin", "FROM_a=extra"}));
    for (const auto& door : {std::pair{"--device", Errc::usage},
                             std::pair{"annotation cdi.k8s.io/...", Errc::invalid}}) {
        const std::string what = door.first; // a lambda cannot capture a structured binding
        const Errc code = door.second;       // in clang 14
        auto bad = failure_of([&] {
            cdi::apply_device_names(rs, {"vendor.com/dev=a", "nvidia0"}, {t.str() + "/extra"}, {},
                                    {what, code, "use vendor.com/class=name"});
        });
        ASSERT_TRUE(bad);
        EXPECT_EQ(bad->code, code);
        EXPECT_EQ(bad->message, what + " \"nvidia0\": not a CDI device name");
    }
    EXPECT_EQ(rs.env, (std::vector<std::string>{"PATH=/bin", "FROM_a=extra"}));
}

// ------------------------------------------------------------------------------------- apply

TEST(CdiApply, EditsInCdiOrder) {
    TempDir t;
    t.write("etc/v.yaml", R"(cdiVersion: 0.7.0
kind: vendor.com/dev
containerEdits:
  env: [SPEC=1, A=spec]
  deviceNodes:
  - path: /dev/null
  mounts:
  - {hostPath: /host/lib, containerPath: /usr/lib/deep/er/lib.so, options: [ro, rbind]}
  hooks:
  - {hookName: createContainer, path: /usr/bin/h, args: [h, spec], env: [X=1], timeout: 4}
devices:
- name: one
  containerEdits:
    env: [DEV=one]
    deviceNodes:
    - {path: /dev/one, hostPath: /dev/zero}
    mounts:
    - {hostPath: /new, containerPath: /data, options: [rbind]}
    additionalGids: [0, 44, 7]
- name: two
  containerEdits:
    env: [DEV=two, A=two]
    deviceNodes:
    - {path: /dev/one, hostPath: /dev/null}
    mounts:
    - {hostPath: /t, containerPath: /a, type: tmpfs}
    additionalGids: [44, 45]
    hooks:
    - {hookName: poststop, path: /usr/bin/h2}
)");
    cdi::Registry reg({t.str() + "/etc"});
    ASSERT_TRUE(reg.errors().empty()) << reg.errors().front();
    auto rs = base_runtime_spec();
    auto res = reg.apply(rs, {"vendor.com/dev=one", "vendor.com/dev=two", "vendor.com/dev=one"});
    // env: spec-level once, then each device; a variable already there is replaced in place
    // (runtime-tools' AddProcessEnv, as the CDI library applies env), never given twice.
    EXPECT_EQ(rs.env,
              (std::vector<std::string>{"PATH=/usr/bin:/bin", "A=two", "SPEC=1", "DEV=two"}));
    // Devices: /dev/null filled from a live lstat; /dev/one replaced by device two's node.
    ASSERT_EQ(rs.devices.size(), 2u);
    EXPECT_EQ(rs.devices[0].path, "/dev/null");
    EXPECT_EQ(rs.devices[0].host_path, "/dev/null");
    EXPECT_EQ(rs.devices[0].type, 'c');
    EXPECT_EQ(rs.devices[0].major, 1);
    EXPECT_EQ(rs.devices[0].minor, 3);
    EXPECT_EQ(rs.devices[0].file_mode, 0666u);
    EXPECT_EQ(rs.devices[1].path, "/dev/one");
    EXPECT_EQ(rs.devices[1].host_path, "/dev/null");
    EXPECT_EQ(rs.devices[1].minor, 3);
    // Mounts: /data replaced, then stably sorted by depth.
    std::vector<std::string> dests;
    for (auto& m : rs.mounts) dests.push_back(m.destination);
    EXPECT_EQ(dests, (std::vector<std::string>{"/proc", "/dev", "/sys", "/data", "/a", "/dev/pts",
                                               "/usr/lib/deep/er/lib.so"}));
    auto data = std::find_if(rs.mounts.begin(), rs.mounts.end(),
                             [](auto& m) { return m.destination == "/data"; });
    EXPECT_EQ(data->source, "/new");
    EXPECT_EQ(data->type, "bind");
    EXPECT_EQ(std::count_if(rs.mounts.begin(), rs.mounts.end(),
                            [](auto& m) { return m.destination == "/data"; }),
              1);
    auto a = std::find_if(rs.mounts.begin(), rs.mounts.end(),
                          [](auto& m) { return m.destination == "/a"; });
    EXPECT_EQ(a->type, "tmpfs");
    // additionalGids: 0 skipped, each once.
    EXPECT_EQ(rs.additional_gids, (std::vector<std::uint32_t>{7, 44, 45}));
    // Hooks returned, not put into the spec, nothing run.
    ASSERT_EQ(res.hooks.size(), 2u);
    EXPECT_EQ(res.hooks[0].hook_name, "createContainer");
    EXPECT_EQ(res.hooks[0].env, std::vector<std::string>{"X=1"});
    EXPECT_EQ(res.hooks[0].timeout, 4);
    EXPECT_EQ(res.hooks[1].path, "/usr/bin/h2");
    EXPECT_TRUE(rs.hooks.empty());
    EXPECT_EQ(res.devices, (std::vector<std::string>{"vendor.com/dev=one", "vendor.com/dev=two"}));

    auto rs2 = base_runtime_spec();
    cdi::ApplyOptions opt;
    opt.hooks_into_spec = true;
    reg.apply(rs2, {"vendor.com/dev=two"}, opt);
    ASSERT_EQ(rs2.hooks["createContainer"].size(), 1u);
    EXPECT_EQ(rs2.hooks["createContainer"][0].args, (std::vector<std::string>{"h", "spec"}));
    EXPECT_EQ(rs2.hooks["poststop"].size(), 1u);
}

TEST(CdiApply, SpecLevelEditsOncePerSpec) {
    cdi::Spec s1 = cdi::parse(spec_text("a.com/x", {"p", "q"}, "1"), cdi::Format::yaml);
    s1.edits.env = {"S1=1"};
    cdi::Spec s2 = cdi::parse(spec_text("b.com/y", {"r"}, "2"), cdi::Format::yaml);
    s2.edits.env = {"S2=1"};
    oci::RuntimeSpec rs;
    cdi::apply(
        rs,
        {{&s1, &s1.devices[0], "one"}, {&s2, &s2.devices[0], "two"}, {&s1, &s1.devices[1], "one"}});
    EXPECT_EQ(rs.env,
              (std::vector<std::string>{"S1=1", "FROM_p=1", "S2=1", "FROM_r=2", "FROM_q=1"}));
}

TEST(CdiApply, DeviceNodeRules) {
    TempDir t;
    t.write("stand-in", "");
    auto spec_with = [](const std::string& node) {
        return cdi::parse("cdiVersion: 0.5.0\nkind: v.com/c\ndevices: [{name: d, "
                          "containerEdits: {deviceNodes: [" +
                              node + "]}}]\n",
                          cdi::Format::yaml);
    };
    auto run = [](const cdi::Spec& s, oci::RuntimeSpec& rs, cdi::ApplyOptions opt = {}) {
        return cdi::apply(rs, {{&s, &s.devices[0], "s.yaml"}}, opt);
    };

    // A missing host node is an error, and the spec is left as it was.
    auto missing = spec_with("{path: /dev/x, hostPath: /nonexistent/node}");
    auto rs = base_runtime_spec();
    rs.env.push_back("KEEP=1");
    auto before = rs.to_json();
    auto f = failure_of([&] { run(missing, rs); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::not_found);
    EXPECT_TRUE(contains(f->message, "s.yaml: v.com/c=d: device node /nonexistent/node (for "
                                     "/dev/x)"))
        << f->message;
    EXPECT_EQ(rs.to_json(), before);

    // Minimally specified (type + major): no host node needed.
    rs = base_runtime_spec();
    run(spec_with("{path: /dev/x, hostPath: /nonexistent/node, type: c, major: 10, minor: 200, "
                  "fileMode: 0600}"),
        rs);
    ASSERT_EQ(rs.devices.size(), 1u);
    EXPECT_EQ(rs.devices[0].major, 10);
    EXPECT_EQ(rs.devices[0].minor, 200);
    EXPECT_EQ(rs.devices[0].file_mode, 0600u);

    // A type that contradicts the host node.
    auto wrong = failure_of([&] {
        auto r = base_runtime_spec();
        run(spec_with("{path: /dev/null, type: b}"), r);
    });
    ASSERT_TRUE(wrong);
    EXPECT_TRUE(contains(wrong->message, "does not match")) << wrong->message;

    // A stale major in the spec: kept, with a warning naming the live numbers.
    rs = base_runtime_spec();
    auto res = run(spec_with("{path: /dev/null, type: c, major: 1, minor: 5}"), rs);
    EXPECT_EQ(rs.devices[0].minor, 5);
    ASSERT_EQ(res.warnings.size(), 1u);
    EXPECT_TRUE(contains(res.warnings[0], "1:5 in the spec but 1:3 on the host"))
        << res.warnings[0];

    // A regular file is not a device node, unless stand-ins are allowed (simulated hosts).
    auto stand_in = spec_with("{path: /dev/nvidia0, hostPath: " + t.str() + "/stand-in}");
    auto nd = failure_of([&] {
        auto r = base_runtime_spec();
        run(stand_in, r);
    });
    ASSERT_TRUE(nd);
    EXPECT_TRUE(contains(nd->message, "is not a device node")) << nd->message;
    rs = base_runtime_spec();
    cdi::ApplyOptions opt;
    opt.allow_stand_in_nodes = true;
    run(stand_in, rs, opt);
    EXPECT_EQ(rs.devices[0].host_path, t.str() + "/stand-in");
    EXPECT_EQ(rs.devices[0].type, 'c');

    // uid/gid default to a non-root process user; explicit values win.
    rs = base_runtime_spec();
    rs.uid = 1000;
    rs.gid = 1001;
    run(spec_with("{path: /dev/null, gid: 5}"), rs);
    EXPECT_EQ(rs.devices[0].uid, 1000u);
    EXPECT_EQ(rs.devices[0].gid, 5u);
}

// runc and crun deny a node not allowed in linux.resources.devices: each b/c node gets an allow
// rule with its numbers and permissions (CDI container-edits.go), and config.json carries it.
TEST(CdiApply, DeviceNodesGetCgroupAllowRules) {
    auto spec = cdi::parse("cdiVersion: 0.5.0\nkind: v.com/c\ndevices: [{name: d, containerEdits: "
                           "{deviceNodes: [{path: /dev/null}, {path: /dev/x, type: c, major: 195, "
                           "minor: 7, permissions: rw}, {path: /dev/y, type: b, major: 8, "
                           "minor: 1, permissions: none}, {path: /dev/f, type: p}]}}]\n",
                           cdi::Format::yaml);
    auto rs = base_runtime_spec();
    cdi::apply(rs, {{&spec, &spec.devices[0], "s.yaml"}});
    ASSERT_EQ(rs.devices.size(), 4u);
    using R = oci::DeviceRule;
    EXPECT_EQ(rs.device_rules,
              (std::vector<R>{{true, 'c', 1, 3, "rwm"}, {true, 'c', 195, 7, "rw"}}));
    auto rules = rs.to_json()["linux"]["resources"]["devices"];
    ASSERT_EQ(rules.size(), 2u) << rules.dump();
    EXPECT_EQ(rules[1],
              (nlohmann::json{
                  {"allow", true}, {"type", "c"}, {"major", 195}, {"minor", 7}, {"access", "rw"}}))
        << rules.dump();
}

TEST(CdiApply, ReferenceSpecAppliesWithStandInNodes) {
    TempDir t;
    t.write("dev/nvidia0", "");
    t.write("dev/nvidiactl", "");
    t.write("cdi/nvidia.yaml", replace_all(kNctSpec, "{{ .driverRoot }}", t.str()));
    cdi::Registry reg({t.str() + "/cdi"});
    ASSERT_TRUE(reg.errors().empty()) << reg.errors().front();
    EXPECT_EQ(reg.device_names(),
              (std::vector<std::string>{"example.com/device=0", "example.com/device=all"}));
    auto rs = base_runtime_spec();
    cdi::ApplyOptions opt;
    opt.allow_stand_in_nodes = true;
    auto res = reg.apply(rs, {"example.com/device=all"}, opt);
    ASSERT_EQ(rs.devices.size(), 2u);
    EXPECT_EQ(rs.devices[0].path, "/dev/nvidiactl");
    EXPECT_EQ(rs.devices[1].host_path, t.str() + "/dev/nvidia0");
    EXPECT_EQ(res.hooks.size(), 5u);
    EXPECT_EQ(rs.env.back(), "NVIDIA_VISIBLE_DEVICES=void");
    EXPECT_EQ(rs.mounts.back().destination,
              "/lib/x86_64-linux-gnu/vdpau/libvdpau_nvidia.so.999.88.77");
    EXPECT_EQ(rs.mounts.back().type, "bind");
}

} // namespace cdi_registry_test
