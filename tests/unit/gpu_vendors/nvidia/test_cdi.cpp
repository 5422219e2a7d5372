// cdi/generate: NVIDIA specs from hand-built hosts (naming strategies, MIG, refusals), and a
// generated spec applied through the registry.
#include "../../cdi/cdi_test_support.hpp"
#include "cdi/registry.hpp"
#include "gpu_vendors/nvidia/cdi.hpp"
#include "oci/runtime_spec.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <string>
#include <sys/stat.h>
#include <vector>

// The host's driver libraries in Debian's multiarch directory of the build's machine (where the
// image's layout puts them too: nv::kMultiarch)
#if defined(__aarch64__)
#define CDI_TEST_LIB "/usr/lib/aarch64-linux-gnu"
#else
#define CDI_TEST_LIB "/usr/lib/x86_64-linux-gnu"
#endif

namespace cdi_generate_test {

using namespace cdi_test;

namespace gpu_host = gantry::gpu_host;
namespace oci = gantry::oci;

// ---------------------------------------------------------------------------------- generate

namespace {

gpu_host::DeviceNode node(const std::string& path, const std::string& host = {},
                          bool present = true) {
    gpu_host::DeviceNode n;
    n.path = path;
    n.host_path = host.empty() ? path : host;
    n.present = present;
    return n;
}

gantry::gpu_vendors::nvidia::Host one_gpu_host(const std::string& drv) {
    gantry::gpu_vendors::nvidia::Host h;
    h.driver_root = drv;
    h.dev_root = "/";
    h.driver_version = "580.95.05";
    const std::string lib = drv + CDI_TEST_LIB "/";
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
              gantry::gpu_vendors::nvidia::Capability::utility}};
    h.ctl = node("/dev/nvidiactl");
    h.uvm = node("/dev/nvidia-uvm");
    h.uvm_tools = node("/dev/nvidia-uvm-tools", "", false);
    h.modeset = node("/dev/nvidia-modeset");
    gantry::gpu_vendors::nvidia::Device g;
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
    t.write("drv" CDI_TEST_LIB "/libnvidia-ml.so", "");
    gantry::gpu_vendors::nvidia::GenerateOptions opt;
    opt.gantry_path = "/usr/local/bin/gantry";
    opt.proc_dirs = true;
    std::vector<std::string> warnings;
    auto s = gantry::gpu_vendors::nvidia::generate(one_gpu_host(drv), opt, &warnings);
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
    EXPECT_EQ(c.env, (std::vector<std::string>{"NVIDIA_CTK_LIBCUDA_DIR=" CDI_TEST_LIB,
                                               "NVIDIA_VISIBLE_DEVICES=void"}));
    // Driver files at their host path minus the driver root.
    std::vector<std::string> cpaths;
    for (auto& m : c.mounts) {
        cpaths.push_back(m.container_path);
        EXPECT_EQ(m.host_path.starts_with("/run/") ? m.host_path : m.host_path.substr(drv.size()),
                  m.container_path);
    }
    EXPECT_EQ(cpaths,
              (std::vector<std::string>{
                  CDI_TEST_LIB "/libcuda.so.580.95.05", CDI_TEST_LIB "/libnvidia-ml.so.580.95.05",
                  CDI_TEST_LIB "/libnvidia-glcore.so.580.95.05",
                  CDI_TEST_LIB "/vdpau/libvdpau_nvidia.so.580.95.05", "/usr/bin/nvidia-smi",
                  "/lib/firmware/nvidia/580.95.05/gsp_ga10x.bin",
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
        EXPECT_EQ(h.env, gantry::gpu_vendors::nvidia::hook_env());
        EXPECT_FALSE(h.env.empty());
    }
    EXPECT_EQ(links_of(s),
              (std::vector<std::string>{"libcuda.so.580.95.05::" CDI_TEST_LIB "/libcuda.so.1",
                                        "libcuda.so.1::" CDI_TEST_LIB "/libcuda.so",
                                        "libnvidia-ml.so.580.95.05::" CDI_TEST_LIB "/"
                                        "libnvidia-ml.so.1",
                                        "libnvidia-ml.so.1::" CDI_TEST_LIB "/libnvidia-ml.so",
                                        "libvdpau_nvidia.so.580.95.05::" CDI_TEST_LIB "/vdpau/"
                                        "libvdpau_nvidia.so.1"}));
    ASSERT_TRUE(hook(s, "update-ldcache"));
    EXPECT_EQ(hook(s, "update-ldcache")->args,
              (std::vector<std::string>{"gantry", "hook", "update-ldcache", "--folder",
                                        CDI_TEST_LIB, "--folder", CDI_TEST_LIB "/vdpau"}));
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

// A container's description (Backend::plan): only what its capabilities select, and for a run
// the libraries in the image's own directories with the linker cache rebuilt only when it must
// be (the image's forward-compat directory first, then the driver's over a stub in its cache).
TEST(CdiGenerate, ARunsDescriptionHasItsCapabilitiesInTheImagesDirectories) {
    TempDir t;
    namespace nv = gantry::gpu_vendors::nvidia;
    auto host = one_gpu_host(t.str() + "/drv");
    host.libraries[0].caps = {nv::Capability::compute};
    host.libraries[2].caps = {nv::Capability::graphics};
    host.libraries[3].caps = {nv::Capability::video};
    nv::GenerateOptions opt;
    opt.gantry_path = "/usr/local/bin/gantry";
    opt.naming = {nv::Naming::index};
    opt.caps = nv::Capabilities{nv::Capability::compute, nv::Capability::utility};
    nv::ImageGpuLayout layout;
    layout.lib_dir = "/usr/lib64";
    layout.lib32_dir = "/usr/lib";
    layout.cached_sonames = std::set<std::string>{"libcuda.so.1"}; // the image's stub
    layout.compat_libcuda = "/usr/local/cuda/compat/libcuda.so.590.44.01";
    opt.layout = layout;
    auto s = nv::generate(host, opt);
    std::set<std::string> mounted;
    for (auto& m : s.edits.mounts) mounted.insert(m.container_path);
    EXPECT_TRUE(mounted.count("/usr/lib64/libcuda.so.580.95.05"));
    EXPECT_TRUE(mounted.count("/usr/lib64/libnvidia-ml.so.580.95.05"));
    EXPECT_TRUE(mounted.count("/run/nvidia-persistenced/socket"));           // utility's
    EXPECT_FALSE(mounted.count("/usr/lib64/libnvidia-glcore.so.580.95.05")); // graphics
    EXPECT_FALSE(mounted.count("/usr/lib64/libvdpau_nvidia.so.580.95.05"));  // video
    std::set<std::string> nodes;
    for (auto& n : s.edits.device_nodes) nodes.insert(n.path);
    EXPECT_EQ(nodes, (std::set<std::string>{"/dev/nvidiactl", "/dev/nvidia-uvm"})); // no display
    auto links = links_of(s);
    EXPECT_NE(
        std::find(links.begin(), links.end(), "libcuda.so.580.95.05::/usr/lib64/libcuda.so.1"),
        links.end());
    EXPECT_NE(std::find(links.begin(), links.end(), "libcuda.so.1::/usr/lib64/libcuda.so"),
              links.end());
    const cdi::Hook* ld = hook(s, "update-ldcache");
    ASSERT_TRUE(ld);
    EXPECT_EQ(std::vector<std::string>(ld->args.begin() + 3, ld->args.end()),
              (std::vector<std::string>{"--folder", "/usr/local/cuda/compat", "--folder",
                                        "/usr/lib64", "--folder", "/usr/lib"}));
    // near miss: an image whose cache names no driver library, without compat libraries, in the
    // loader's default directory: no cache rebuilt at all
    layout = nv::ImageGpuLayout{};
    layout.cached_sonames = std::set<std::string>{"libc.so.6"};
    opt.layout = layout;
    EXPECT_EQ(hook(nv::generate(host, opt), "update-ldcache"), nullptr);
    // cdi generate (no caps, no layout): every file, at its host path minus the driver root
    opt.caps.reset();
    opt.layout.reset();
    s = nv::generate(host, opt);
    mounted.clear();
    for (auto& m : s.edits.mounts) mounted.insert(m.container_path);
    EXPECT_TRUE(mounted.count(CDI_TEST_LIB "/libnvidia-glcore.so.580.95.05"));
}

TEST(CdiGenerate, NamingStrategiesAndVersions) {
    TempDir t;
    auto host = one_gpu_host(t.str());
    gantry::gpu_vendors::nvidia::GenerateOptions opt;
    opt.gantry_path = "/opt/gantry";
    opt.naming = {gantry::gpu_vendors::nvidia::Naming::uuid};
    auto s = gantry::gpu_vendors::nvidia::generate(host, opt);
    EXPECT_EQ(names(s),
              (std::vector<std::string>{"GPU-11111111-2222-3333-4444-555555555555", "all"}));
    EXPECT_EQ(s.cdi_version, "0.3.0"); // nothing in it needs more
    opt.naming = {gantry::gpu_vendors::nvidia::Naming::index};
    s = gantry::gpu_vendors::nvidia::generate(host, opt);
    EXPECT_EQ(names(s), (std::vector<std::string>{"0", "all"}));
    // By default no mount under /proc (runc refuses those).
    for (auto& d : s.devices) EXPECT_TRUE(d.edits.mounts.empty()) << d.name;

    // A separate dev root puts hostPath in, which needs 0.5.0.
    opt.naming = {gantry::gpu_vendors::nvidia::Naming::uuid};
    host.ctl = node("/dev/nvidiactl", "/devroot/dev/nvidiactl");
    s = gantry::gpu_vendors::nvidia::generate(host, opt);
    EXPECT_EQ(s.edits.device_nodes[0].host_path, "/devroot/dev/nvidiactl");
    EXPECT_EQ(s.cdi_version, "0.5.0");

    // A node the container user cannot open through "other" brings its group (0.7.0).
    host.ctl.gid = 44;
    host.ctl.mode = 0660;
    s = gantry::gpu_vendors::nvidia::generate(host, opt);
    EXPECT_EQ(s.edits.additional_gids, std::vector<std::uint32_t>{44});
    EXPECT_EQ(s.cdi_version, "0.7.0");
}

TEST(CdiGenerate, TwoGpusWithMig) {
    TempDir t;
    auto host = one_gpu_host(t.str());
    gantry::gpu_vendors::nvidia::Device g1;
    g1.index = 1;
    g1.minor = 1;
    g1.uuid = "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    g1.mig_enabled = true;
    g1.node = node("/dev/nvidia1");
    for (int i = 0; i < 2; ++i) {
        gantry::gpu_vendors::nvidia::MigDevice m;
        m.gpu_index = 1;
        m.gi = i + 1;
        m.ci = 0;
        m.uuid = "MIG-0000000" + std::to_string(i) + "-1111-2222-3333-444444444444";
        m.gi_cap = node("/dev/nvidia-caps/nvidia-cap" + std::to_string(10 + 2 * i));
        m.ci_cap = node("/dev/nvidia-caps/nvidia-cap" + std::to_string(11 + 2 * i));
        g1.migs.push_back(m);
    }
    host.devices.push_back(g1);
    gantry::gpu_vendors::nvidia::GenerateOptions opt;
    opt.gantry_path = "/opt/gantry";
    auto s = gantry::gpu_vendors::nvidia::generate(host, opt);
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
    gantry::gpu_vendors::nvidia::generate(host, opt, &warnings);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_TRUE(contains(warnings[0], "nvidia-cap11 missing")) << warnings[0];
}

TEST(CdiGenerate, Refusals) {
    gantry::gpu_vendors::nvidia::Host empty;
    empty.notes = {"no /proc/driver/nvidia/version"};
    gantry::gpu_vendors::nvidia::GenerateOptions opt;
    opt.gantry_path = "/opt/gantry";
    auto f = failure_of([&] { gantry::gpu_vendors::nvidia::generate(empty, opt); });
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::not_found);
    EXPECT_TRUE(contains(f->message, "no NVIDIA GPU")) << f->message;
    EXPECT_TRUE(contains(f->message, "no /proc/driver/nvidia/version")) << f->message;
    opt.gantry_path = "gantry";
    auto r = failure_of([&] { gantry::gpu_vendors::nvidia::generate(one_gpu_host("/x"), opt); });
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
    gantry::gpu_vendors::nvidia::GenerateOptions opt;
    opt.gantry_path = "/opt/gantry";
    auto spec = gantry::gpu_vendors::nvidia::generate(host, opt);
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

} // namespace cdi_generate_test

#undef CDI_TEST_LIB
