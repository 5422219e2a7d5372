// gpu_vendors/nvidia: discover() on synthetic roots: full, no ld.so.cache, empty, WSL, a fake NVML.
#include "../../support/gpu_test_support.hpp"
#include "gpu_vendors/nvidia/host.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace nvidia_discover_test {

using namespace gpu_test;
using gantry::gpu_vendors::nvidia::Capability;

namespace {

void lay_out_proc(const std::string& root, const std::string& bus = "0000:3b:00.0",
                  const std::string& machine = "x86_64") {
    write(root + "/proc/driver/nvidia/version",
          "NVRM version: NVIDIA UNIX Open Kernel Module for " + machine + "  " + ver +
              "  Release Build  (dvs-builder@U16)  Tue Aug  5 2025\nGCC version:  gcc 12\n");
    write(root + "/proc/driver/nvidia/params", "ModifyDeviceFiles: 1\nDeviceFileMode: 438\n");
    write(root + "/proc/driver/nvidia/gpus/" + bus + "/information",
          "Model: \t\t NVIDIA A100-SXM4-80GB\nIRQ: \t\t 408\n"
          "GPU UUID: \t GPU-edfee158-11c1-52b8-0517-92f30e7fac88\nBus Type: \t PCIe\n"
          "Bus Location: \t " +
              bus + "\nDevice Minor: \t 0\nGPU Excluded:\t No\n");
    write(root + "/proc/devices",
          "Character devices:\n  1 mem\n195 nvidia\n508 nvidia-uvm\n511 nvidia-caps\n\n"
          "Block devices:\n  8 sd\n");
    write(root + "/proc/driver/nvidia-caps/mig-minors",
          "config 1\nmonitor 2\ngpu0/gi1/access 12\ngpu0/gi1/ci0/access 13\n");
}

void make_socket(const std::string& path) {
    stdfs::create_directories(stdfs::path(path).parent_path());
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    ASSERT_LT(path.size(), sizeof a.sun_path);
    std::strcpy(a.sun_path, path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << path;
    ::close(fd);
}

void lay_out_rest(const std::string& root) {
    write(root + "/lib/firmware/nvidia/" + ver + "/gsp_ga10x.bin", "fw");
    write(root + "/lib/firmware/nvidia/" + ver + "/gsp_tu10x.bin", "fw");
    write(root + "/lib/firmware/nvidia/" + ver + "/README", "x");
    write(root + "/usr/bin/nvidia-smi", "#!/bin/sh\n");
    write(root + "/usr/bin/nvidia-cuda-mps-control", "#!/bin/sh\n");
    write(root + "/etc/vulkan/icd.d/nvidia_icd.json", "{}");
    make_socket(root + "/run/nvidia-persistenced/socket");
    link(root + "/var/run", "/run"); // absolute, inside the root
    stdfs::create_directories(root + "/tmp/nvidia-mps");
}

const gantry::gpu_vendors::nvidia::Library* find_lib(const gantry::gpu_vendors::nvidia::Host& h,
                                                     const std::string& name, bool lib32 = false) {
    for (const auto& l : h.libraries) {
        if (l.name == name && l.lib32 == lib32) return &l;
    }
    return nullptr;
}

bool has_note(const gantry::gpu_vendors::nvidia::Host& h, const std::string& part) {
    return std::any_of(h.notes.begin(), h.notes.end(),
                       [&](const std::string& n) { return n.find(part) != std::string::npos; });
}

std::string all_notes(const gantry::gpu_vendors::nvidia::Host& h) {
    std::string s;
    for (const auto& n : h.notes) s += n + "\n";
    return s;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// discover()

TEST(NvidiaDiscover, FullDriverRootWithoutNvml) {
    GpuTempDir t;
    const std::string root = t.str() + "/driver", dev = t.str() + "/devroot";
    lay_out_libraries(root);
    lay_out_proc(root);
    lay_out_rest(root);
    write(dev + "/dev/nvidiactl", "");
    write(dev + "/dev/nvidia0", "");
    const bool cache = run_ldconfig(root);

    for (bool with_cache : {true, false}) {
        SCOPED_TRACE(with_cache ? "ld.so.cache" : "directory scan");
        if (with_cache && !cache) continue;
        if (!with_cache) stdfs::remove(root + "/etc/ld.so.cache");
        gantry::gpu_vendors::nvidia::Host h =
            gantry::gpu_vendors::nvidia::discover({root, dev, true});
        EXPECT_EQ(h.driver_version, ver) << all_notes(h);
        EXPECT_EQ(h.cuda_version, 13000);
        EXPECT_EQ(h.proc_root, root + "/proc");
        EXPECT_EQ(h.driver_root, root);
        EXPECT_FALSE(h.wsl);

        std::set<std::string> names;
        for (const auto& l : h.libraries) names.insert(l.name + (l.lib32 ? " (32)" : ""));
        std::set<std::string> want = {"libcuda.so." + ver, "libnvidia-ml.so." + ver,
                                      "libnvidia-glcore.so." + ver, "libnvidia-newthing.so." + ver,
                                      "libvdpau_nvidia.so." + ver};
        if (native_layout().lib32) { // x86-64's 32-bit companions (an arm64 driver has none)
            want.insert("libcuda.so." + ver + " (32)");
            want.insert("libnvidia-ml.so." + ver + " (32)");
        }
        EXPECT_EQ(names, want) << all_notes(h);
        const auto* cuda = find_lib(h, "libcuda.so." + ver);
        ASSERT_NE(cuda, nullptr);
        EXPECT_EQ(cuda->soname, "libcuda.so.1");
        EXPECT_EQ(cuda->host_path, root + x64 + "/libcuda.so." + ver);
        EXPECT_EQ(cuda->caps, (gantry::gpu_vendors::nvidia::Capabilities{Capability::compute,
                                                                         Capability::video}));
        if (native_layout().lib32) {
            const auto* cuda32 = find_lib(h, "libcuda.so." + ver, true);
            ASSERT_NE(cuda32, nullptr);
            EXPECT_EQ(cuda32->host_path, root + x32 + "/libcuda.so." + ver);
        }
        const auto* ml = find_lib(h, "libnvidia-ml.so." + ver);
        ASSERT_NE(ml, nullptr);
        EXPECT_EQ(ml->host_path, root + x64 + "/libnvidia-ml.so." + ver); // absolute link, in root
        EXPECT_EQ(ml->caps, gantry::gpu_vendors::nvidia::Capabilities{Capability::utility});
        EXPECT_EQ(h.nvml_path, root + x64 + "/libnvidia-ml.so." + ver);
        EXPECT_EQ(find_lib(h, "libnvidia-glcore.so." + ver)->soname, "libnvidia-glcore.so." + ver);
        EXPECT_EQ(
            find_lib(h, "libnvidia-newthing.so." + ver)->caps,
            (gantry::gpu_vendors::nvidia::Capabilities{Capability::graphics, Capability::display}));
        EXPECT_EQ(find_lib(h, "libvdpau_nvidia.so." + ver)->caps,
                  gantry::gpu_vendors::nvidia::Capabilities{Capability::video});

        ASSERT_EQ(h.firmware.size(), 2u);
        EXPECT_EQ(h.firmware[0].host_path, root + "/lib/firmware/nvidia/" + ver + "/gsp_ga10x.bin");
        EXPECT_EQ(h.firmware[0].container_path, "/lib/firmware/nvidia/" + ver + "/gsp_ga10x.bin");
        EXPECT_TRUE(h.firmware[0].caps.empty());

        ASSERT_EQ(h.binaries.size(), 2u);
        EXPECT_EQ(h.binaries[0].container_path, "/usr/bin/nvidia-smi");
        EXPECT_EQ(h.binaries[0].caps,
                  gantry::gpu_vendors::nvidia::Capabilities{Capability::utility});
        EXPECT_EQ(h.binaries[1].container_path, "/usr/bin/nvidia-cuda-mps-control");
        EXPECT_EQ(h.binaries[1].caps,
                  gantry::gpu_vendors::nvidia::Capabilities{Capability::compute});

        ASSERT_EQ(h.ipc.size(), 2u); // run/ and var/run/ are one socket
        EXPECT_EQ(h.ipc[0].host_path, root + "/run/nvidia-persistenced/socket");
        EXPECT_EQ(h.ipc[0].container_path, "/run/nvidia-persistenced/socket");
        EXPECT_EQ(h.ipc[0].cap, Capability::utility);
        EXPECT_EQ(h.ipc[1].container_path, "/tmp/nvidia-mps");
        EXPECT_EQ(h.ipc[1].cap, Capability::compute);
        ASSERT_EQ(h.configs.size(), 1u);
        EXPECT_EQ(h.configs[0].container_path, "/etc/vulkan/icd.d/nvidia_icd.json");

        EXPECT_TRUE(h.ctl.present);
        EXPECT_EQ(h.ctl.path, "/dev/nvidiactl");
        EXPECT_EQ(h.ctl.host_path, dev + "/dev/nvidiactl");
        EXPECT_EQ(h.ctl.major, 195);
        EXPECT_EQ(h.ctl.minor, 255);
        EXPECT_FALSE(h.uvm.present);
        EXPECT_EQ(h.uvm.major, 508);
        EXPECT_EQ(h.uvm_tools.minor, 1);
        EXPECT_FALSE(h.modeset.present);
        EXPECT_EQ(h.modeset.minor, 254);
        EXPECT_TRUE(has_note(h, "/dev/nvidia-uvm")) << all_notes(h);

        EXPECT_FALSE(h.nvml_loaded);
        EXPECT_TRUE(has_note(h, "NVML unavailable")) << all_notes(h);
        ASSERT_EQ(h.devices.size(), 1u);
        const gantry::gpu_vendors::nvidia::Device& d = h.devices[0];
        EXPECT_EQ(d.name, "NVIDIA A100-SXM4-80GB");
        EXPECT_EQ(d.uuid, "GPU-edfee158-11c1-52b8-0517-92f30e7fac88");
        EXPECT_EQ(d.pci_bus_id, "00000000:3B:00.0");
        EXPECT_EQ(d.minor, 0);
        EXPECT_EQ(d.cc_major, 0);
        EXPECT_EQ(d.proc_dir, root + "/proc/driver/nvidia/gpus/0000:3b:00.0");
        EXPECT_TRUE(d.node.present);
        EXPECT_EQ(d.node.path, "/dev/nvidia0");
        EXPECT_EQ(d.node.major, 195);
        ASSERT_EQ(h.mig_config_caps.size(), 2u);
        EXPECT_EQ(h.mig_config_caps[0].path, "/dev/nvidia-caps/nvidia-cap1");
        EXPECT_EQ(h.mig_config_caps[0].major, 511);
        EXPECT_FALSE(h.mig_config_caps[0].present);
        EXPECT_FALSE(gantry::gpu_vendors::nvidia::to_string(h).empty());
    }
}

// An arm64 server's driver (NVIDIA's "sbsa" driver: Grace Hopper, Grace Blackwell) is x86's
// under /usr/lib/aarch64-linux-gnu. Discovery for aarch64 finds in such a tree what discovery for
// x86-64 finds in an x86 tree (libraries, SONAMEs, capabilities, binaries, firmware, IPC, nodes,
// GPUs), with the linker cache and by scanning, passes over the other machine's cache entries
// and objects (saying so), has no 32-bit companions, and takes the aarch64 Vulkan ICD. The
// trees' caches are written by hand: the host's ldconfig indexes its own machine only.
TEST(NvidiaDiscover, SbsaDriverRootAsX86s) {
    namespace nv = gantry::gpu_vendors::nvidia;
    GpuTempDir t;
    struct Tree {
        nv::Machine machine;
        LibLayout libs;
        std::uint16_t other; // the other machine's ELF e_machine
        std::int32_t flags;  // its ld.so.cache entries' flags
    };
    const Tree trees[] = {{nv::Machine::x86_64, x86_layout(), elf::em_aarch64, 0x0303},
                          {nv::Machine::aarch64, sbsa_layout(), elf::em_x86_64, 0x0a03}};
    std::map<std::string, std::vector<std::string>> seen; // "cache"/"scan" -> first tree's view
    for (const Tree& tr : trees) {
        const std::string name = nv::to_string(tr.machine);
        const std::string root = t.str() + "/" + name, dev = t.str() + "/" + name + "-dev";
        const std::string& d = tr.libs.dir;
        lay_out_libraries(root, tr.libs);
        lay_out_proc(root, "0000:3b:00.0", name);
        lay_out_rest(root);
        write(root + "/etc/vulkan/icd.d/nvidia_icd.x86_64.json", "{}");
        write(root + "/etc/vulkan/icd.d/nvidia_icd.aarch64.json", "{}");
        write(root + d + "/libnvidia-foreign.so." + ver,
              make_elf(64, tr.other, "libnvidia-foreign.so.1"));
        write(dev + "/dev/nvidiactl", "");
        write(dev + "/dev/nvidia0", "");
        std::vector<CacheEntry> entries;
        for (const char* so : {"libnvidia-ml.so.1", "libnvidia-newthing.so.1", "libcuda.so.1",
                               "libcuda.so", "libnvidia-old.so.1", "libfoo.so.1"})
            entries.push_back({tr.flags, so, d + "/" + so});
        entries.push_back(
            {tr.flags, "libnvidia-glcore.so." + ver, d + "/libnvidia-glcore.so." + ver});
        // a cache that says the foreign object is this machine's: its ELF header says otherwise
        entries.push_back({tr.flags, "libnvidia-foreign.so.1", d + "/libnvidia-foreign.so." + ver});
        // the other machine's entry for a library that is not there
        entries.push_back({tr.flags == 0x0303 ? 0x0a03 : 0x0303, "libnvidia-ml.so.1",
                           "/usr/lib/other/libnvidia-ml.so.1"});
        if (tr.libs.lib32) {
            entries.push_back({0x0003, "libcuda.so.1", x32 + "/libcuda.so.1"});
            entries.push_back({0x0001, "libnvidia-ml.so.1", x32 + "/libnvidia-ml.so.1"});
        }
        for (const std::string mode : {"cache", "scan"}) {
            SCOPED_TRACE(name + " " + mode);
            if (mode == "cache")
                write(root + "/etc/ld.so.cache", ldcache_bytes(entries));
            else
                stdfs::remove(root + "/etc/ld.so.cache");
            nv::Host h = nv::discover({root, dev, false, tr.machine});
            EXPECT_EQ(h.machine, tr.machine);
            EXPECT_EQ(h.driver_version, ver) << all_notes(h);
            EXPECT_EQ(h.nvml_path, root + d + "/libnvidia-ml.so." + ver) << all_notes(h);
            EXPECT_TRUE(has_note(h, d + "/libnvidia-foreign.so." + ver +
                                        " is an ELF64 object of "
                                        "machine " +
                                        std::to_string(tr.other)))
                << all_notes(h);
            // What a container gets, with the machine's directory and name taken out.
            auto neutral = [&](std::string p) {
                for (const std::string& x : {d, std::string(nv::to_string(tr.machine))})
                    for (auto at = p.find(x); at != std::string::npos; at = p.find(x))
                        p.replace(at, x.size(), "@");
                return p;
            };
            std::vector<std::string> view;
            for (const auto& l : h.libraries)
                view.push_back("lib " + neutral(l.host_path.substr(root.size())) + " " + l.soname +
                               (l.lib32 ? " 32 " : " ") + nv::to_string(l.caps));
            for (const auto* files : {&h.binaries, &h.firmware, &h.configs})
                for (const auto& f : *files)
                    view.push_back("file " + neutral(f.container_path) + " " +
                                   neutral(f.host_path.substr(root.size())));
            for (const auto& s : h.ipc) view.push_back("ipc " + s.container_path);
            for (const auto& dv : h.devices)
                view.push_back("gpu " + dv.uuid + " " + dv.node.path +
                               (dv.node.present ? " present" : ""));
            view.push_back(std::string("ctl ") + (h.ctl.present ? "present" : "missing"));
            std::sort(view.begin(), view.end());
            if (tr.machine == nv::Machine::aarch64) {
                for (const auto& l : h.libraries) EXPECT_FALSE(l.lib32) << l.host_path;
                std::set<std::string> configs;
                for (const auto& c : h.configs) configs.insert(c.container_path);
                EXPECT_EQ(configs,
                          (std::set<std::string>{"/etc/vulkan/icd.d/nvidia_icd.json",
                                                 "/etc/vulkan/icd.d/nvidia_icd.aarch64.json"}));
                // x86's view less its 32-bit companions
                std::vector<std::string> x86 = seen[mode];
                x86.erase(std::remove_if(x86.begin(), x86.end(),
                                         [](const std::string& v) {
                                             return v.find(" 32 ") != std::string::npos;
                                         }),
                          x86.end());
                EXPECT_EQ(view, x86);
                EXPECT_EQ(view.size(), 15u);
            } else {
                seen[mode] = view;
            }
        }
    }
}

TEST(NvidiaDiscover, VersionFromLibraryNamesWithoutProc) {
    GpuTempDir t;
    const std::string root = t.str();
    lay_out_libraries(root);
    gantry::gpu_vendors::nvidia::Host h =
        gantry::gpu_vendors::nvidia::discover({root, root, false});
    EXPECT_EQ(h.driver_version, ver) << all_notes(h);
    EXPECT_TRUE(has_note(h, "taken from")) << all_notes(h);
    EXPECT_EQ(h.cuda_version, 13000);
    EXPECT_EQ(h.proc_root, "/proc");
    EXPECT_NE(find_lib(h, "libcuda.so." + ver), nullptr);
}

TEST(NvidiaDiscover, EmptyAndBrokenRootsSayWhy) {
    GpuTempDir t;
    for (const std::string& root :
         {t.str(), t.str() + "/does/not/exist", std::string("relative/nowhere")}) {
        gantry::gpu_vendors::nvidia::Host h =
            gantry::gpu_vendors::nvidia::discover({root, root, true});
        EXPECT_FALSE(h.has_driver());
        EXPECT_TRUE(h.libraries.empty());
        EXPECT_TRUE(h.devices.empty());
        EXPECT_FALSE(h.notes.empty());
        EXPECT_FALSE(h.ctl.present);
    }
    // A garbage ld.so.cache and a version file without a version.
    write(t.str() + "/etc/ld.so.cache", "glibc-ld.so.cache1.1 garbage");
    write(t.str() + "/proc/driver/nvidia/version", "nothing here\n");
    gantry::gpu_vendors::nvidia::Host h =
        gantry::gpu_vendors::nvidia::discover({t.str(), t.str(), true});
    EXPECT_FALSE(h.has_driver());
    EXPECT_TRUE(has_note(h, "ld.so.cache")) << all_notes(h);
    EXPECT_TRUE(has_note(h, "no driver version")) << all_notes(h);
}

TEST(NvidiaDiscover, SymlinkOutOfTheDriverRootIsNotFollowed) {
    GpuTempDir t;
    const std::string root = t.str() + "/driver";
    lay_out_proc(root);
    write(root + x64 + "/libcuda.so." + ver, elf64("libcuda.so.1"));
    write(t.str() + "/outside/libnvidia-escape.so." + ver, elf64("libnvidia-escape.so.1"));
    link(root + x64 + "/libnvidia-escape.so." + ver,
         t.str() + "/outside/libnvidia-escape.so." + ver);
    link(root + x64 + "/libnvidia-escape2.so." + ver,
         "../../../../outside/libnvidia-escape.so." + ver);
    gantry::gpu_vendors::nvidia::Host h =
        gantry::gpu_vendors::nvidia::discover({root, root, false});
    ASSERT_EQ(h.libraries.size(), 1u) << all_notes(h);
    EXPECT_EQ(h.libraries[0].name, "libcuda.so." + ver);
}

TEST(NvidiaDiscover, WslLayout) {
    // The lib share's copies (libcuda.so.1, libnvidia-ml.so.1, nvidia-smi) are not what is
    // mounted: libdxcore.so from it, the rest from the store that holds libcuda.so.1.1 (as
    // nvidia-ctk's wsl mode); an Intel iGPU's store is passed over.
    GpuTempDir t;
    const std::string root = t.str();
    const std::string wsl = root + "/usr/lib/wsl/lib";
    const std::string store = root + "/usr/lib/wsl/drivers/nv_dispi.inf_amd64_1234";
    write(wsl + "/libcuda.so.1", elf64("libcuda.so.1"));
    write(wsl + "/libnvidia-ml.so.1", elf64("libnvidia-ml.so.1"));
    write(wsl + "/libdxcore.so", elf64(""));
    write(wsl + "/nvidia-smi", "#!/bin/sh\n");
    write(store + "/libcuda.so.1.1", elf64("libcuda.so.1"));
    write(store + "/libnvidia-ml.so.1", elf64("libnvidia-ml.so.1"));
    write(store + "/nvcubins.bin", "x");
    write(store + "/nvidia-smi", "#!/bin/sh\n");
    write(store + "/nv_dispi.inf", "");
    write(root + "/usr/lib/wsl/drivers/iigd_dch.inf_amd64_9/x.dll", "");
    write(root + x64 + "/libcuda.so.580.95.05", elf64("libcuda.so.1"));
    write(root + "/dev/dxg", "");
    gantry::gpu_vendors::nvidia::Host h =
        gantry::gpu_vendors::nvidia::discover({root, root, false});
    EXPECT_TRUE(h.wsl);
    EXPECT_TRUE(has_note(h, "WSL")) << all_notes(h);
    EXPECT_FALSE(has_note(h, "kernel module")) << all_notes(h);
    EXPECT_EQ(h.libraries.size(), 3u) << all_notes(h);
    const auto* dx = find_lib(h, "libdxcore.so");
    ASSERT_NE(dx, nullptr);
    EXPECT_TRUE(dx->caps.empty());
    ASSERT_NE(find_lib(h, "libcuda.so.1.1"), nullptr);
    EXPECT_EQ(find_lib(h, "libcuda.so.1.1")->host_path, store + "/libcuda.so.1.1");
    ASSERT_EQ(h.binaries.size(), 1u);
    EXPECT_EQ(h.binaries[0].host_path, store + "/nvidia-smi");
    ASSERT_EQ(h.configs.size(), 1u); // nvcubins.bin; not the .inf
    EXPECT_EQ(h.configs[0].container_path,
              "/usr/lib/wsl/drivers/nv_dispi.inf_amd64_1234/nvcubins.bin");
    EXPECT_EQ(h.nvml_path, store + "/libnvidia-ml.so.1");
    EXPECT_EQ(h.wsl_driver_store, std::vector<std::string>{store});
    EXPECT_EQ(h.wsl_shadowing, std::vector<std::string>{x64 + "/libcuda.so.580.95.05"});
    EXPECT_TRUE(h.dxg.present);
    EXPECT_EQ(h.dxg.path, "/dev/dxg");
}

// A tiny NVML: one A100 in MIG mode with one 1g.10gb instance (GI 1, CI 0).
const char* const fake_nvml_source = R"(
#include <string.h>
typedef struct dev { int mig; } dev;
static dev gpu = {0}, mig = {1};
typedef struct { char legacy[16]; unsigned domain, bus, device, id, sub; char busId[32]; } pci_t;
typedef struct { unsigned long long total, free, used; } mem_t;
int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
int nvmlSystemGetDriverVersion(char* b, unsigned n) { strncpy(b, "580.95.05", n); return 0; }
int nvmlSystemGetCudaDriverVersion_v2(int* v) { *v = 13000; return 0; }
int nvmlDeviceGetCount_v2(unsigned* n) { *n = 1; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, dev** d) { if (i) return 2; *d = &gpu; return 0; }
int nvmlDeviceGetName(dev* d, char* b, unsigned n) {
    strncpy(b, d->mig ? "NVIDIA A100-SXM4-80GB MIG 1g.10gb" : "NVIDIA A100-SXM4-80GB", n); return 0; }
int nvmlDeviceGetUUID(dev* d, char* b, unsigned n) {
    strncpy(b, d->mig ? "MIG-11111111-2222-3333-4444-555555555555"
                      : "GPU-edfee158-11c1-52b8-0517-92f30e7fac88", n); return 0; }
int nvmlDeviceGetMinorNumber(dev* d, unsigned* m) { (void)d; *m = 0; return 0; }
int nvmlDeviceGetPciInfo_v3(dev* d, pci_t* p) {
    (void)d; memset(p, 0, sizeof *p); p->bus = 0x3b; strcpy(p->busId, "00000000:3B:00.0"); return 0; }
int nvmlDeviceGetCudaComputeCapability(dev* d, int* a, int* b) { (void)d; *a = 8; *b = 0; return 0; }
int nvmlDeviceGetMemoryInfo(dev* d, mem_t* m) {
    m->total = d->mig ? 10ull << 30 : 80ull << 30; m->free = m->used = 0; return 0; }
int nvmlDeviceGetBrand(dev* d, int* b) { (void)d; *b = 2; return 0; }
int nvmlDeviceGetMigMode(dev* d, unsigned* c, unsigned* p) { (void)d; *c = *p = 1; return 0; }
int nvmlDeviceGetMaxMigDeviceCount(dev* d, unsigned* n) { (void)d; *n = 7; return 0; }
int nvmlDeviceGetMigDeviceHandleByIndex(dev* d, unsigned i, dev** m) {
    (void)d; if (i) return 6; *m = &mig; return 0; }
int nvmlDeviceGetGpuInstanceId(dev* d, unsigned* id) { (void)d; *id = 1; return 0; }
int nvmlDeviceGetComputeInstanceId(dev* d, unsigned* id) { (void)d; *id = 0; return 0; }
)";

TEST(NvidiaDiscover, GpusAndMigFromNvml) {
    if (!have_cc()) GTEST_SKIP() << why_no_cc();
    GpuTempDir t;
    const std::string root = t.str() + "/driver", dev = t.str() + "/dev";
    lay_out_proc(root);
    ASSERT_TRUE(
        build_so(root + x64 + "/libnvidia-ml.so." + ver, "libnvidia-ml.so.1", fake_nvml_source));
    link(root + x64 + "/libnvidia-ml.so.1", "libnvidia-ml.so." + ver);
    write(dev + "/dev/nvidia-caps/nvidia-cap12", "");

    gantry::gpu_vendors::nvidia::Host off =
        gantry::gpu_vendors::nvidia::discover({root, dev, false});
    EXPECT_FALSE(off.nvml_loaded);
    EXPECT_EQ(off.nvml_path, root + x64 + "/libnvidia-ml.so." + ver);

    gantry::gpu_vendors::nvidia::Host h = gantry::gpu_vendors::nvidia::discover({root, dev, true});
    ASSERT_TRUE(h.nvml_loaded) << all_notes(h);
    EXPECT_EQ(h.cuda_version, 13000);
    ASSERT_EQ(h.devices.size(), 1u);
    const gantry::gpu_vendors::nvidia::Device& d = h.devices[0];
    EXPECT_EQ(d.name, "NVIDIA A100-SXM4-80GB");
    EXPECT_EQ(d.brand, "Tesla");
    EXPECT_EQ(d.pci_bus_id, "00000000:3B:00.0");
    EXPECT_EQ(d.cc_major, 8);
    EXPECT_EQ(d.memory, 80ull << 30);
    EXPECT_EQ(d.proc_dir, root + "/proc/driver/nvidia/gpus/0000:3b:00.0");
    EXPECT_FALSE(d.node.present);
    ASSERT_TRUE(d.mig_enabled);
    ASSERT_EQ(d.migs.size(), 1u);
    const gantry::gpu_vendors::nvidia::MigDevice& m = d.migs[0];
    EXPECT_EQ(m.gi, 1);
    EXPECT_EQ(m.ci, 0);
    EXPECT_EQ(m.profile, "1g.10gb");
    EXPECT_EQ(m.uuid, "MIG-11111111-2222-3333-4444-555555555555");
    EXPECT_EQ(m.memory, 10ull << 30);
    EXPECT_EQ(m.gi_cap.path, "/dev/nvidia-caps/nvidia-cap12");
    EXPECT_EQ(m.gi_cap.host_path, dev + "/dev/nvidia-caps/nvidia-cap12");
    EXPECT_TRUE(m.gi_cap.present);
    EXPECT_EQ(m.gi_cap.major, 511);
    EXPECT_EQ(m.ci_cap.minor, 13);
    EXPECT_FALSE(m.ci_cap.present);
}

// The shared simulated host (tests/fixtures/gpuhost): 8 MIG GPUs, its real fake NVML, real nodes
// when root. FAKE_DEVICE_ROOT is the test's business (the fake NVML looks there), not gantry's.
TEST(NvidiaDiscover, SimulatedHostFixture) {
    const stdfs::path script = stdfs::path(GANTRY_TESTS_DIR) / "fixtures/gpuhost/gpuhost.py";
    if (!stdfs::exists(script) || std::system("python3 --version >/dev/null 2>&1") != 0 ||
        !have_cc())
        GTEST_SKIP() << "no gpuhost.py, python3 or C compiler";
    GpuTempDir t;
    const std::string out = t.str() + "/host";
    std::string cmd = "python3 '" + script.string() + "' build --gpus 8 --mig --lib32 '" + out +
                      "' >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const std::string root = out + "/driver", dev = out + "/dev";
    ::setenv("FAKE_DEVICE_ROOT", dev.c_str(), 1);
    gantry::gpu_vendors::nvidia::Host h = gantry::gpu_vendors::nvidia::discover({root, dev, true});
    ::unsetenv("FAKE_DEVICE_ROOT");
    EXPECT_EQ(h.driver_version, ver);
    EXPECT_EQ(h.cuda_version, 13000);
    ASSERT_TRUE(h.nvml_loaded) << all_notes(h);
    ASSERT_EQ(h.devices.size(), 8u) << all_notes(h);
    for (const auto& d : h.devices) {
        EXPECT_TRUE(d.node.present) << d.node.host_path;
        EXPECT_EQ(d.node.path, "/dev/nvidia" + std::to_string(d.minor));
        EXPECT_EQ(d.cc_major, 8);
        EXPECT_FALSE(d.proc_dir.empty());
        EXPECT_TRUE(d.mig_enabled);
        ASSERT_FALSE(d.migs.empty());
        for (const auto& m : d.migs) {
            EXPECT_FALSE(m.profile.empty());
            EXPECT_TRUE(m.gi_cap.present) << m.gi_cap.host_path;
            EXPECT_TRUE(m.ci_cap.present) << m.ci_cap.host_path;
        }
    }
    EXPECT_TRUE(h.ctl.present);
    EXPECT_TRUE(h.uvm.present);
    EXPECT_NE(find_lib(h, "libcuda.so." + ver), nullptr);
    EXPECT_NE(find_lib(h, "libcuda.so." + ver, true), nullptr);
    EXPECT_NE(find_lib(h, "libvdpau_nvidia.so." + ver), nullptr);
    EXPECT_EQ(find_lib(h, "libnvidia-ml.so." + ver)->soname, "libnvidia-ml.so.1");
    EXPECT_EQ(h.firmware.size(), 2u);
    EXPECT_FALSE(h.binaries.empty());
}

} // namespace nvidia_discover_test
