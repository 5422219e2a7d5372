// CDI: strict parsing and validation, minimum versions, serialisation, the spec registry
// (priorities, conflicts), applying edits to an OCI runtime spec, and generating NVIDIA specs
// from hand-built hosts.
#include "cdi/generate.hpp"
#include "cdi/registry.hpp"
#include "cdi/spec.hpp"
#include "oci/runtime_spec.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using gantry::Errc;
using gantry::Error;
namespace cdi = gantry::cdi;
namespace gpu = gantry::gpu;
namespace oci = gantry::oci;
namespace stdfs = std::filesystem;

namespace {

struct Failure {
    Errc code;
    std::string message;
};

template <typename F>
std::optional<Failure> failure_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return Failure{e.code(), e.message()};
    }
    return std::nullopt;
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
        s.replace(p, from.size(), to);
    return s;
}

// Reference nvidia-driver.md §2.6 (b): NCT v1.20.0's TestGenerateSpec "default", verbatim.
const std::string kNctSpec = R"(---
cdiVersion: 0.5.0
kind: example.com/device
devices:
    - name: "0"
      containerEdits:
        deviceNodes:
            - path: /dev/nvidia0
              hostPath: {{ .driverRoot }}/dev/nvidia0
    - name: all
      containerEdits:
        deviceNodes:
            - path: /dev/nvidia0
              hostPath: {{ .driverRoot }}/dev/nvidia0
containerEdits:
    env:
        - NVIDIA_CTK_LIBCUDA_DIR=/lib/x86_64-linux-gnu
        - NVIDIA_VISIBLE_DEVICES=void
    deviceNodes:
        - path: /dev/nvidiactl
          hostPath: {{ .driverRoot }}/dev/nvidiactl
    hooks:
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - create-symlinks
            - --link
            - libcuda.so.1::/lib/x86_64-linux-gnu/libcuda.so
          env:
            - NVIDIA_CTK_DEBUG=false
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - enable-cuda-compat
            - --host-driver-version=999.88.77
          env:
            - NVIDIA_CTK_DEBUG=false
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - update-ldcache
            - --folder
            - /lib/x86_64-linux-gnu
            - --folder
            - /lib/x86_64-linux-gnu/vdpau
          env:
            - NVIDIA_CTK_DEBUG=false
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - disable-device-node-modification
          env:
            - NVIDIA_CTK_DEBUG=false
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - update-application-profile
          env:
            - NVIDIA_CTK_DEBUG=false
    mounts:
        - hostPath: {{ .driverRoot }}/lib/x86_64-linux-gnu/libcuda.so.999.88.77
          containerPath: /lib/x86_64-linux-gnu/libcuda.so.999.88.77
          options:
            - ro
            - nosuid
            - nodev
            - rbind
            - rprivate
        - hostPath: {{ .driverRoot }}/lib/x86_64-linux-gnu/vdpau/libvdpau_nvidia.so.999.88.77
          containerPath: /lib/x86_64-linux-gnu/vdpau/libvdpau_nvidia.so.999.88.77
          options:
            - ro
            - nosuid
            - nodev
            - rbind
            - rprivate
)";

// Reference §2.6 (c), the 1.12.0-rc.2 shape (flow lists as in the reference; a device added,
// since the excerpt leaves the device list out).
const std::string kHistoricalSpec = R"(cdiVersion: 0.4.0
kind: nvidia.com/gpu
devices:
- name: gpu0
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
containerEdits:
  deviceNodes:
  - path: /dev/nvidia-modeset
  - path: /dev/nvidia-uvm-tools
  - path: /dev/nvidia-uvm
  - path: /dev/nvidiactl
  hooks:
  - args: [nvidia-ctk, hook, update-ldcache, --folder, /usr/lib64]
    hookName: createContainer
    path: /bin/nvidia-ctk
  - args: [nvidia-ctk, hook, chmod, --mode, "755", --path, /dev/dri]
    hookName: createContainer
    path: /bin/nvidia-ctk
  mounts:
  - containerPath: /usr/lib64/libnvoptix.so.520.61.05
    hostPath: /usr/lib64/libnvoptix.so.520.61.05
    options: [ro, nosuid, nodev, bind]
    type: bind
  # ... libnvidia-wayland-client, libnvidia-vulkan-producer, libnvidia-tls, libnvidia-rtcore, ...
)";

// A small valid spec to break in one place at a time.
const std::string kSmall = R"(cdiVersion: 0.6.0
kind: vendor.com/dev
devices:
- name: a
  containerEdits:
    env: [A=1]
- name: b
  containerEdits:
    env: [B=1]
- name: c
  containerEdits:
    mounts:
    - hostPath: /x
      containerPath: /y
)";

Failure parse_failure(const std::string& text, cdi::Format f = cdi::Format::yaml) {
    auto fl = failure_of([&] { cdi::parse(text, f, "t.yaml"); });
    EXPECT_TRUE(fl.has_value()) << "parsed but should not:\n" << text;
    return fl.value_or(Failure{Errc::internal, ""});
}

class TempDir {
  public:
    TempDir() {
        std::string tmpl = (stdfs::temp_directory_path() / "gantry-cdi-XXXXXX").string();
        path_ = ::mkdtemp(tmpl.data());
    }
    ~TempDir() { gantry::fs::remove_tree(path_); }
    const stdfs::path& path() const { return path_; }
    std::string str() const { return path_.string(); }
    void write(const std::string& rel, const std::string& text) const {
        stdfs::create_directories((path_ / rel).parent_path());
        gantry::fs::write_atomic(path_ / rel, text);
    }

  private:
    stdfs::path path_;
};

} // namespace

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

TEST(CdiNames, QualifiedNames) {
    auto q = cdi::parse_qualified_name("nvidia.com/gpu=0:1");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->vendor, "nvidia.com");
    EXPECT_EQ(q->cls, "gpu");
    EXPECT_EQ(q->name, "0:1");
    EXPECT_EQ(q->str(), "nvidia.com/gpu=0:1");
    for (const char* bad : {"/dev/nvidia0", "nvidia.com/gpu", "gpu=0",
                            "nvidia.com/gpu=", "nvidia.com/gpu=a/b", "=x", "nvidia.com/=0"})
        EXPECT_FALSE(cdi::parse_qualified_name(bad)) << bad;
}

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

// ------------------------------------------------------------------------------------- apply

namespace {

oci::RuntimeSpec base_runtime_spec() {
    oci::RuntimeSpec rs;
    rs.env = {"PATH=/usr/bin:/bin", "A=0"};
    rs.mounts = {{"/proc", "proc", "proc", {}},
                 {"/dev", "tmpfs", "tmpfs", {"nosuid"}},
                 {"/dev/pts", "devpts", "devpts", {}},
                 {"/data", "bind", "/old", {"rbind"}},
                 {"/sys", "sysfs", "sysfs", {}}};
    rs.additional_gids = {7};
    return rs;
}

} // namespace

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
    // env: spec-level once, then each device, appended (the last A wins in the process env).
    EXPECT_EQ(rs.env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "A=0", "SPEC=1", "A=spec",
                                                "DEV=one", "DEV=two", "A=two"}));
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

// ---------------------------------------------------------------------------------- generate

namespace {

gpu::DeviceNode node(const std::string& path, const std::string& host = {}, bool present = true) {
    gpu::DeviceNode n;
    n.path = path;
    n.host_path = host.empty() ? path : host;
    n.present = present;
    return n;
}

gpu::Host one_gpu_host(const std::string& drv) {
    gpu::Host h;
    h.driver_root = drv;
    h.dev_root = "/";
    h.driver_version = "580.95.05";
    const std::string lib = drv + "/usr/lib/x86_64-linux-gnu/";
    h.libraries = {
        {lib + "libcuda.so.580.95.05", "libcuda.so.580.95.05", "libcuda.so.1", false, {}},
        {lib + "libnvidia-ml.so.580.95.05",
         "libnvidia-ml.so.580.95.05",
         "libnvidia-ml.so.1",
         false,
         {}},
        {lib + "libnvidia-glcore.so.580.95.05",
         "libnvidia-glcore.so.580.95.05",
         "libnvidia-glcore.so.580.95.05",
         false,
         {}},
        {lib + "vdpau/libvdpau_nvidia.so.580.95.05",
         "libvdpau_nvidia.so.580.95.05",
         "libvdpau_nvidia.so.1",
         false,
         {}},
    };
    h.binaries = {{drv + "/usr/bin/nvidia-smi", "/usr/bin/nvidia-smi", {}}};
    h.firmware = {{drv + "/lib/firmware/nvidia/580.95.05/gsp_ga10x.bin", "", {}}};
    h.configs = {
        {drv + "/etc/vulkan/icd.d/nvidia_icd.json", "/etc/vulkan/icd.d/nvidia_icd.json", {}}};
    h.proc_root = drv + "/proc";
    h.ipc = {{"/run/nvidia-persistenced/socket", "/run/nvidia-persistenced/socket",
              gpu::Capability::utility}};
    h.ctl = node("/dev/nvidiactl");
    h.uvm = node("/dev/nvidia-uvm");
    h.uvm_tools = node("/dev/nvidia-uvm-tools", "", false);
    h.modeset = node("/dev/nvidia-modeset");
    gpu::Device g;
    g.index = 0;
    g.minor = 0;
    g.uuid = "GPU-11111111-2222-3333-4444-555555555555";
    g.pci_bus_id = "00000000:3B:00.0";
    g.node = node("/dev/nvidia0");
    g.proc_dir = drv + "/proc/driver/nvidia/gpus/0000:3b:00.0";
    h.devices.push_back(g);
    return h;
}

std::vector<std::string> names(const cdi::Spec& s) {
    std::vector<std::string> out;
    for (auto& d : s.devices) out.push_back(d.name);
    return out;
}

std::vector<std::string> links_of(const cdi::Spec& s) {
    for (auto& h : s.edits.hooks)
        if (h.args.size() > 2 && h.args[2] == "create-symlinks") {
            std::vector<std::string> out;
            for (size_t i = 3; i + 1 < h.args.size(); i += 2) {
                EXPECT_EQ(h.args[i], "--link");
                out.push_back(h.args[i + 1]);
            }
            return out;
        }
    return {};
}

const cdi::Hook* hook(const cdi::Spec& s, const std::string& sub) {
    for (auto& h : s.edits.hooks)
        if (h.args.size() > 2 && h.args[2] == sub) return &h;
    return nullptr;
}

} // namespace

TEST(CdiGenerate, OneGpu) {
    TempDir t;
    const std::string drv = t.str() + "/drv";
    // The host has the .so link for NVML (so the container gets one) but not for glcore.
    t.write("drv/usr/lib/x86_64-linux-gnu/libnvidia-ml.so", "");
    cdi::GenerateOptions opt;
    opt.gantry_path = "/usr/local/bin/gantry";
    opt.proc_dirs = true;
    std::vector<std::string> warnings;
    auto s = cdi::generate(one_gpu_host(drv), opt, &warnings);
    EXPECT_TRUE(warnings.empty()) << warnings.front();
    EXPECT_TRUE(cdi::validate(s).empty()) << cdi::validate(s).front();
    EXPECT_EQ(s.kind, "nvidia.com/gpu");
    EXPECT_EQ(s.cdi_version, "0.5.0"); // the index name "0"
    EXPECT_EQ(names(s),
              (std::vector<std::string>{"0", "GPU-11111111-2222-3333-4444-555555555555", "all"}));

    const auto& d0 = s.devices[0].edits;
    ASSERT_EQ(d0.device_nodes.size(), 1u);
    EXPECT_EQ(d0.device_nodes[0].path, "/dev/nvidia0");
    EXPECT_EQ(d0.device_nodes[0].host_path, ""); // same as path: left out
    EXPECT_EQ(d0.device_nodes[0].major, 0);      // read live by consumers
    ASSERT_EQ(d0.mounts.size(), 1u);
    EXPECT_EQ(d0.mounts[0].container_path, "/proc/driver/nvidia/gpus/0000:3b:00.0");
    EXPECT_EQ(d0.mounts[0].host_path, drv + "/proc/driver/nvidia/gpus/0000:3b:00.0");
    EXPECT_EQ(d0.mounts[0].options[0], "ro");
    EXPECT_EQ(s.devices[1].edits.device_nodes[0].path, "/dev/nvidia0");

    const auto& c = s.edits;
    std::vector<std::string> nodes;
    for (auto& n : c.device_nodes) nodes.push_back(n.path);
    EXPECT_EQ(nodes, (std::vector<std::string>{"/dev/nvidiactl", "/dev/nvidia-uvm",
                                               "/dev/nvidia-modeset"}));
    EXPECT_EQ(c.env, (std::vector<std::string>{"NVIDIA_CTK_LIBCUDA_DIR=/usr/lib/x86_64-linux-gnu",
                                               "NVIDIA_VISIBLE_DEVICES=void"}));
    // Driver files at their host path minus the driver root.
    std::vector<std::string> cpaths;
    for (auto& m : c.mounts) {
        cpaths.push_back(m.container_path);
        EXPECT_EQ(m.host_path.rfind("/run/", 0) == 0 ? m.host_path : m.host_path.substr(drv.size()),
                  m.container_path);
    }
    EXPECT_EQ(cpaths, (std::vector<std::string>{
                          "/usr/lib/x86_64-linux-gnu/libcuda.so.580.95.05",
                          "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.580.95.05",
                          "/usr/lib/x86_64-linux-gnu/libnvidia-glcore.so.580.95.05",
                          "/usr/lib/x86_64-linux-gnu/vdpau/libvdpau_nvidia.so.580.95.05",
                          "/usr/bin/nvidia-smi", "/lib/firmware/nvidia/580.95.05/gsp_ga10x.bin",
                          "/etc/vulkan/icd.d/nvidia_icd.json", "/run/nvidia-persistenced/socket"}));
    EXPECT_EQ(c.mounts[0].options,
              (std::vector<std::string>{"ro", "nosuid", "nodev", "rbind", "rprivate"}));
    EXPECT_EQ(c.mounts.back().options,
              (std::vector<std::string>{"nosuid", "nodev", "rbind", "rprivate", "noexec"}));
    for (auto& m : c.mounts) EXPECT_EQ(m.type, "");

    // Hooks: gantry by absolute path, explicit env, createContainer.
    ASSERT_EQ(c.hooks.size(), 3u);
    for (auto& h : c.hooks) {
        EXPECT_EQ(h.hook_name, "createContainer");
        EXPECT_EQ(h.path, "/usr/local/bin/gantry");
        EXPECT_EQ(h.args[0], "gantry");
        EXPECT_EQ(h.args[1], "hook");
        EXPECT_EQ(h.env, cdi::hook_env());
        EXPECT_FALSE(h.env.empty());
    }
    EXPECT_EQ(links_of(s), (std::vector<std::string>{
                               "libcuda.so.580.95.05::/usr/lib/x86_64-linux-gnu/libcuda.so.1",
                               "libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so",
                               "libnvidia-ml.so.580.95.05::/usr/lib/x86_64-linux-gnu/"
                               "libnvidia-ml.so.1",
                               "libnvidia-ml.so.1::/usr/lib/x86_64-linux-gnu/libnvidia-ml.so",
                               "libvdpau_nvidia.so.580.95.05::/usr/lib/x86_64-linux-gnu/vdpau/"
                               "libvdpau_nvidia.so.1"}));
    ASSERT_TRUE(hook(s, "update-ldcache"));
    EXPECT_EQ(hook(s, "update-ldcache")->args,
              (std::vector<std::string>{"gantry", "hook", "update-ldcache", "--folder",
                                        "/usr/lib/x86_64-linux-gnu", "--folder",
                                        "/usr/lib/x86_64-linux-gnu/vdpau"}));
    ASSERT_TRUE(hook(s, "disable-device-node-modification"));
    // The simulated host's params file, not the machine's /proc.
    EXPECT_EQ(hook(s, "disable-device-node-modification")->args,
              (std::vector<std::string>{"gantry", "hook", "disable-device-node-modification",
                                        "--params", drv + "/proc/driver/nvidia/params"}));

    // Serialises and reads back unchanged.
    auto y = cdi::to_yaml(s);
    EXPECT_EQ(cdi::to_yaml(cdi::parse(y, cdi::Format::yaml)), y);
    EXPECT_EQ(cdi::to_yaml(cdi::parse(cdi::to_json(s), cdi::Format::json)), y);
}

TEST(CdiGenerate, NamingStrategiesAndVersions) {
    TempDir t;
    auto host = one_gpu_host(t.str());
    cdi::GenerateOptions opt;
    opt.gantry_path = "/opt/gantry";
    opt.naming = {cdi::Naming::uuid};
    auto s = cdi::generate(host, opt);
    EXPECT_EQ(names(s),
              (std::vector<std::string>{"GPU-11111111-2222-3333-4444-555555555555", "all"}));
    EXPECT_EQ(s.cdi_version, "0.3.0"); // nothing in it needs more
    opt.naming = {cdi::Naming::index};
    s = cdi::generate(host, opt);
    EXPECT_EQ(names(s), (std::vector<std::string>{"0", "all"}));
    // By default no mount under /proc (runc refuses those).
    for (auto& d : s.devices) EXPECT_TRUE(d.edits.mounts.empty()) << d.name;

    // A separate dev root puts hostPath in, which needs 0.5.0.
    opt.naming = {cdi::Naming::uuid};
    host.ctl = node("/dev/nvidiactl", "/devroot/dev/nvidiactl");
    s = cdi::generate(host, opt);
    EXPECT_EQ(s.edits.device_nodes[0].host_path, "/devroot/dev/nvidiactl");
    EXPECT_EQ(s.cdi_version, "0.5.0");

    // A node the container user cannot open through "other" brings its group (0.7.0).
    host.ctl.gid = 44;
    host.ctl.mode = 0660;
    s = cdi::generate(host, opt);
    EXPECT_EQ(s.edits.additional_gids, std::vector<std::uint32_t>{44});
    EXPECT_EQ(s.cdi_version, "0.7.0");
}

TEST(CdiGenerate, TwoGpusWithMig) {
    TempDir t;
    auto host = one_gpu_host(t.str());
    gpu::Device g1;
    g1.index = 1;
    g1.minor = 1;
    g1.uuid = "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    g1.mig_enabled = true;
    g1.node = node("/dev/nvidia1");
    for (int i = 0; i < 2; ++i) {
        gpu::MigDevice m;
        m.gpu_index = 1;
        m.gi = i + 1;
        m.ci = 0;
        m.uuid = "MIG-0000000" + std::to_string(i) + "-1111-2222-3333-444444444444";
        m.gi_cap = node("/dev/nvidia-caps/nvidia-cap" + std::to_string(10 + 2 * i));
        m.ci_cap = node("/dev/nvidia-caps/nvidia-cap" + std::to_string(11 + 2 * i));
        g1.migs.push_back(m);
    }
    host.devices.push_back(g1);
    cdi::GenerateOptions opt;
    opt.gantry_path = "/opt/gantry";
    auto s = cdi::generate(host, opt);
    EXPECT_TRUE(cdi::validate(s).empty());
    EXPECT_EQ(names(s),
              (std::vector<std::string>{"0", "GPU-11111111-2222-3333-4444-555555555555", "1",
                                        "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "1:0",
                                        "MIG-00000000-1111-2222-3333-444444444444", "1:1",
                                        "MIG-00000001-1111-2222-3333-444444444444", "all"}));
    auto paths = [](const cdi::Device* d) {
        std::vector<std::string> out;
        for (auto& n : d->edits.device_nodes) out.push_back(n.path);
        return out;
    };
    EXPECT_EQ(paths(s.find("1:1")),
              (std::vector<std::string>{"/dev/nvidia1", "/dev/nvidia-caps/nvidia-cap12",
                                        "/dev/nvidia-caps/nvidia-cap13"}));
    EXPECT_EQ(paths(s.find("1:1")), paths(s.find("MIG-00000001-1111-2222-3333-444444444444")));
    EXPECT_EQ(paths(s.find("1")), std::vector<std::string>{"/dev/nvidia1"});
    EXPECT_EQ(
        paths(s.find("all")),
        (std::vector<std::string>{"/dev/nvidia0", "/dev/nvidia1", "/dev/nvidia-caps/nvidia-cap10",
                                  "/dev/nvidia-caps/nvidia-cap11", "/dev/nvidia-caps/nvidia-cap12",
                                  "/dev/nvidia-caps/nvidia-cap13"}));
    EXPECT_EQ(s.cdi_version, "0.5.0");
    auto y = cdi::to_yaml(s);
    EXPECT_TRUE(contains(y, "name: \"1:0\"")) << y;
    EXPECT_EQ(cdi::to_yaml(cdi::parse(y, cdi::Format::yaml)), y);

    // Missing capability nodes are reported, not silently dropped.
    host.devices[1].migs[0].ci_cap.present = false;
    std::vector<std::string> warnings;
    cdi::generate(host, opt, &warnings);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_TRUE(contains(warnings[0], "nvidia-cap11 missing")) << warnings[0];
}

TEST(CdiGenerate, Refusals) {
    gpu::Host empty;
    empty.notes = {"no /proc/driver/nvidia/version"};
    cdi::GenerateOptions opt;
    opt.gantry_path = "/opt/gantry";
    auto f = failure_of([&] { cdi::generate(empty, opt); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::not_found);
    EXPECT_TRUE(contains(f->message, "no NVIDIA GPU")) << f->message;
    EXPECT_TRUE(contains(f->message, "no /proc/driver/nvidia/version")) << f->message;
    opt.gantry_path = "gantry";
    auto r = failure_of([&] { cdi::generate(one_gpu_host("/x"), opt); });
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, Errc::usage);
}

TEST(CdiGenerate, GeneratedSpecAppliesThroughTheRegistry) {
    TempDir t;
    auto host = one_gpu_host(t.str() + "/drv");
    // Real character devices stand in for the GPU nodes so that lstat fills the numbers.
    host.devices[0].node = node("/dev/nvidia0", "/dev/zero");
    host.ctl = node("/dev/nvidiactl", "/dev/null");
    host.uvm.present = host.modeset.present = false;
    cdi::GenerateOptions opt;
    opt.gantry_path = "/opt/gantry";
    auto spec = cdi::generate(host, opt);
    stdfs::create_directories(t.path() / "cdi");
    stdfs::create_directories(t.path() / "cdi2");
    cdi::write_atomic(spec, t.path() / "cdi" / "nvidia.yaml");
    cdi::Registry reg({t.str() + "/cdi"});
    ASSERT_TRUE(reg.errors().empty()) << reg.errors().front();
    auto rs = base_runtime_spec();
    auto res = reg.apply(rs, {"nvidia.com/gpu=0"});
    ASSERT_EQ(rs.devices.size(), 2u);
    EXPECT_EQ(rs.devices[0].path, "/dev/nvidiactl");
    EXPECT_EQ(rs.devices[0].host_path, "/dev/null");
    EXPECT_EQ(rs.devices[1].host_path, "/dev/zero");
    EXPECT_EQ(rs.devices[1].minor, 5);
    EXPECT_EQ(res.hooks.size(), 3u);
    EXPECT_EQ(res.hooks[0].path, "/opt/gantry");
    // JSON files load alike.
    cdi::write_atomic(spec, t.path() / "cdi2" / "nvidia.json");
    cdi::Registry reg2({t.str() + "/cdi2"});
    EXPECT_EQ(reg2.device_names(), reg.device_names());
}
