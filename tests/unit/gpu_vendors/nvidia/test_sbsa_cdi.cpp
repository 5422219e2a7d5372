// The CDI spec of an arm64 server's NVIDIA driver (sbsa: Grace Hopper, Grace Blackwell): what
// gantry generates from a discovered sbsa tree is what it generates from the same x86 tree with
// the machine's directory and name swapped, in nvidia-ctk's shape for aarch64 (its
// pkg/nvcdi: every library at its host path minus the driver root, NVIDIA_CTK_LIBCUDA_DIR the
// directory of libcuda, the linker cache hook over the library directories, the Vulkan ICD
// named nvidia_icd.aarch64.json on arm64).
#include "../../support/gpu_test_support.hpp"
#include "cdi/spec_write.hpp"
#include "gpu_vendors/nvidia/cdi.hpp"
#include "gpu_vendors/nvidia/host.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace sbsa_cdi_test {

using namespace gpu_test;
namespace nv = gantry::gpu_vendors::nvidia;

namespace {

// A driver tree of one machine with its linker cache, proc files, one GPU and its nodes.
nv::Host sbsa_or_x86(const std::string& root, const std::string& dev, nv::Machine m) {
    LibLayout l = m == nv::Machine::aarch64 ? sbsa_layout() : x86_layout();
    l.lib32 = false; // the same files on both (x86's 32-bit companions have no arm64 twin)
    const std::int32_t flags = m == nv::Machine::aarch64 ? 0x0a03 : 0x0303;
    lay_out_libraries(root, l);
    std::vector<CacheEntry> entries;
    for (const char* so :
         {"libnvidia-ml.so.1", "libnvidia-newthing.so.1", "libcuda.so.1", "libcuda.so"})
        entries.push_back({flags, so, l.dir + "/" + so});
    entries.push_back({flags, "libnvidia-glcore.so." + ver, l.dir + "/libnvidia-glcore.so." + ver});
    write(root + "/etc/ld.so.cache", ldcache_bytes(entries));
    write(root + "/proc/driver/nvidia/version",
          std::string("NVRM version: NVIDIA UNIX Open Kernel Module for ") + nv::to_string(m) +
              "  " + ver + "  Release Build\n");
    write(root + "/proc/driver/nvidia/params", "ModifyDeviceFiles: 1\n");
    write(root + "/proc/driver/nvidia/gpus/0009:01:00.0/information",
          "Model: \t\t NVIDIA GH200 480GB\nGPU UUID: \t GPU-0a1b2c3d-0000-1111-2222-333344445555\n"
          "Bus Location: \t 0009:01:00.0\nDevice Minor: \t 0\n");
    write(root + "/proc/devices", "Character devices:\n195 nvidia\n508 nvidia-uvm\n");
    write(root + "/lib/firmware/nvidia/" + ver + "/gsp_ga10x.bin", "fw");
    write(root + "/lib/firmware/nvidia/" + ver + "/gsp_tu10x.bin", "fw");
    write(root + "/usr/bin/nvidia-smi", "#!/bin/sh\n");
    write(root + "/usr/bin/nvidia-persistenced", "#!/bin/sh\n");
    write(root + "/etc/vulkan/icd.d/nvidia_icd." + std::string(nv::to_string(m)) + ".json", "{}");
    for (const char* n : {"nvidiactl", "nvidia0", "nvidia-uvm", "nvidia-uvm-tools"})
        write(dev + "/dev/" + n, "");
    return nv::discover({root, dev, false, m});
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

} // namespace

TEST(SbsaCdi, SpecIsX86sWithTheAarch64DirectoryInNvidiaCtksShape) {
    GpuTempDir t;
    nv::GenerateOptions opt;
    opt.gantry_path = "/usr/bin/gantry";
    std::string yaml[2];
    for (nv::Machine m : {nv::Machine::x86_64, nv::Machine::aarch64}) {
        const std::string name = nv::to_string(m);
        const std::string root = t.str() + "/" + name, dev = t.str() + "/" + name + "-dev";
        nv::Host h = sbsa_or_x86(root, dev, m);
        std::vector<std::string> warnings;
        auto spec = nv::generate(h, opt, &warnings);
        EXPECT_TRUE(warnings.empty()) << warnings.front();
        std::string y = gantry::cdi::to_yaml(spec);
        y = replace_all(y, root, "<driver-root>");
        y = replace_all(y, dev, "<dev-root>");
        yaml[m == nv::Machine::aarch64] = y;
        if (m != nv::Machine::aarch64) continue;

        // nvidia-ctk's aarch64 spec: the libraries at their paths under the multiarch directory
        const std::string a = "/usr/lib/aarch64-linux-gnu";
        std::vector<std::string> mounts;
        for (const auto& mt : spec.edits.mounts) mounts.push_back(mt.container_path);
        EXPECT_EQ(mounts, (std::vector<std::string>{
                              // the linker cache's order, as nvidia-ctk's
                              a + "/libnvidia-ml.so." + ver, a + "/libnvidia-newthing.so." + ver,
                              a + "/libcuda.so." + ver, a + "/libnvidia-glcore.so." + ver,
                              a + "/vdpau/libvdpau_nvidia.so." + ver, "/usr/bin/nvidia-smi",
                              "/usr/bin/nvidia-persistenced",
                              "/lib/firmware/nvidia/" + ver + "/gsp_ga10x.bin",
                              "/lib/firmware/nvidia/" + ver + "/gsp_tu10x.bin",
                              "/etc/vulkan/icd.d/nvidia_icd.aarch64.json"}))
            << y;
        EXPECT_EQ(spec.edits.env, (std::vector<std::string>{"NVIDIA_CTK_LIBCUDA_DIR=" + a,
                                                            "NVIDIA_VISIBLE_DEVICES=void"}));
        bool ldcache = false;
        for (const auto& hk : spec.edits.hooks)
            if (hk.args.size() > 2 && hk.args[2] == "update-ldcache") {
                ldcache = true;
                EXPECT_EQ(hk.args,
                          (std::vector<std::string>{"gantry", "hook", "update-ldcache", "--folder",
                                                    a, "--folder", a + "/vdpau"}));
            }
        EXPECT_TRUE(ldcache) << y;
        std::vector<std::string> names;
        for (const auto& d : spec.devices) names.push_back(d.name);
        EXPECT_EQ(names, (std::vector<std::string>{"0", "GPU-0a1b2c3d-0000-1111-2222-333344445555",
                                                   "all"}));
        EXPECT_NE(y.find("libcuda.so.1::" + a + "/libcuda.so"), std::string::npos) << y;
    }
    // The same spec for both machines, the directory and the ICD's name aside
    std::string x86 = yaml[0];
    x86 = replace_all(x86, "x86_64-linux-gnu", "aarch64-linux-gnu");
    x86 = replace_all(x86, "nvidia_icd.x86_64.json", "nvidia_icd.aarch64.json");
    EXPECT_EQ(yaml[1], x86);
}

} // namespace sbsa_cdi_test
