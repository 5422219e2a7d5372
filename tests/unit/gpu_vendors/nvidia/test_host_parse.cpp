// gpu_vendors/nvidia: the proc-file and version parsers, capability tables.
#include "../../support/gpu_test_support.hpp"
#include "gpu_vendors/nvidia/host.hpp"

#include <gtest/gtest.h>
#include <map>
#include <optional>
#include <string>

namespace nvidia_host_parse_test {

using namespace gpu_test;
using gantry::gpu_vendors::nvidia::Capability;

// ---------------------------------------------------------------------------------------------
// Parsers and tables

TEST(NvidiaHostParse, DriverVersionFromProc) {
    EXPECT_EQ(gantry::gpu_vendors::nvidia::parse_proc_version(
                  "NVRM version: NVIDIA UNIX x86_64 Kernel Module  515.76  Mon "
                  "Sep 12 19:21:56 UTC 2022\nGCC version:  gcc version 7.5.0\n"),
              "515.76");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::parse_proc_version(
                  "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.82.07  "
                  "Tue Aug  5 17:24:00 UTC 2025\n"),
              "580.82.07");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::parse_proc_version(
                  "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  "
                  "575.57.08  Release Build  (dvs-builder@U16)  Tue May 20"),
              "575.57.08");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::parse_proc_version(
                  "NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  "
                  "580.65.06  Release Build\n"),
              "580.65.06");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::parse_proc_version(""), "");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::parse_proc_version("NVRM version: garbage\n"), "");
    EXPECT_EQ(
        gantry::gpu_vendors::nvidia::parse_proc_version("NVRM version: Kernel Module  1.2  x"), "");

    EXPECT_TRUE(gantry::gpu_vendors::nvidia::is_driver_version("580.82.07"));
    EXPECT_TRUE(gantry::gpu_vendors::nvidia::is_driver_version("515.76"));
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::is_driver_version("1"));
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::is_driver_version("1.1"));
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::is_driver_version("580"));
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::is_driver_version("580.x"));
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::is_driver_version("580.1.2.3"));
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::is_driver_version("580..1"));
}

TEST(NvidiaHostParse, CudaVersionFromBranch) {
    const std::map<std::string, int> want = {
        {"580.95.05", 13000},  {"575.57.08", 12090}, {"570.133.20", 12080}, {"565.57.01", 12070},
        {"560.35.03", 12060},  {"555.42.02", 12050}, {"550.54.14", 12040},  {"545.23.06", 12030},
        {"535.183.01", 12020}, {"530.30.02", 12010}, {"525.60.13", 12000},  {"520.61.05", 11080},
        {"515.76", 11070},     {"510.47.03", 11060}, {"495.29.05", 11050},  {"470.57.02", 11040},
        {"465.19.01", 11030},  {"460.32.03", 11020}, {"455.23.05", 11010},  {"450.51.06", 11000},
        {"590.48.01", 13010},  {"595.10.01", 13020}, {"585.1.1", 13000},    {"536.25", 12020},
    };
    for (const auto& [v, cuda] : want)
        EXPECT_EQ(gantry::gpu_vendors::nvidia::cuda_version_for_driver(v), cuda) << v;
    EXPECT_EQ(gantry::gpu_vendors::nvidia::cuda_version_for_driver(""), 0);
    EXPECT_EQ(gantry::gpu_vendors::nvidia::cuda_version_for_driver("99.1"), 0);
    EXPECT_EQ(gantry::gpu_vendors::nvidia::cuda_version_string(12090), "12.9");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::cuda_version_string(13000), "13.0");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::cuda_version_string(0), "");
}

TEST(NvidiaHostParse, LibraryCapabilities) {
    using Caps = gantry::gpu_vendors::nvidia::Capabilities;
    EXPECT_EQ(gantry::gpu_vendors::nvidia::library_capabilities("libcuda.so." + ver),
              (Caps{Capability::compute, Capability::video}));
    EXPECT_EQ(gantry::gpu_vendors::nvidia::library_capabilities("libnvidia-ml.so.1"),
              Caps{Capability::utility});
    EXPECT_EQ(
        gantry::gpu_vendors::nvidia::library_capabilities("libnvidia-pkcs11-openssl3.so." + ver),
        (Caps{Capability::compute, Capability::video}));
    EXPECT_EQ(gantry::gpu_vendors::nvidia::library_capabilities("libnvcuvid.so." + ver),
              Caps{Capability::video});
    EXPECT_EQ(gantry::gpu_vendors::nvidia::library_capabilities("libGLX_nvidia.so." + ver),
              (Caps{Capability::graphics, Capability::display}));
    EXPECT_EQ(gantry::gpu_vendors::nvidia::library_capabilities("libnvidia-ngx.so." + ver),
              Caps{Capability::ngx});
    EXPECT_EQ(gantry::gpu_vendors::nvidia::library_capabilities("libnvidia-whatever.so." + ver),
              (Caps{Capability::graphics, Capability::display}));
    EXPECT_EQ(gantry::gpu_vendors::nvidia::library_capabilities("/usr/lib/wsl/lib/libdxcore.so"),
              Caps{});

    gantry::gpu_vendors::nvidia::Library lib;
    lib.caps = {Capability::compute, Capability::video};
    EXPECT_TRUE(lib.selected_by({Capability::video}));
    EXPECT_FALSE(lib.selected_by({Capability::utility}));
    lib.lib32 = true;
    EXPECT_FALSE(lib.selected_by({Capability::compute}));
    EXPECT_TRUE(lib.selected_by({Capability::compute, Capability::compat32}));
    gantry::gpu_vendors::nvidia::Library always;
    EXPECT_TRUE(always.selected_by({Capability::utility}));
    EXPECT_FALSE(always.selected_by({}));

    EXPECT_EQ(gantry::gpu_vendors::nvidia::capability_from_string("compat32"),
              Capability::compat32);
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::capability_from_string("all").has_value());
    EXPECT_EQ(gantry::gpu_vendors::nvidia::to_string(gantry::gpu_vendors::nvidia::Capabilities{
                  Capability::utility, Capability::compute}),
              "compute,utility");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::all_capabilities().size(), 7u);
}

TEST(NvidiaHostParse, ProcFiles) {
    auto majors = gantry::gpu_vendors::nvidia::parse_proc_devices(
        "Character devices:\n  1 mem\n195 nvidia-frontend\n"
        "234 nvidia-nvlink\n235 nvidia-caps\n\nBlock devices:\n"
        "259 blkext\n");
    EXPECT_EQ(majors["nvidia-frontend"], 195);
    EXPECT_EQ(majors["nvidia-caps"], 235);
    EXPECT_EQ(majors.count("blkext"), 0u);

    auto minors =
        gantry::gpu_vendors::nvidia::parse_mig_minors("config 1\nmonitor 2\ngpu0/gi0/access 3\n"
                                                      "gpu0/gi0/ci0/access 4\nbroken\nx y\n");
    EXPECT_EQ(minors.size(), 4u);
    EXPECT_EQ(minors["gpu0/gi0/ci0/access"], 4);

    auto info = gantry::gpu_vendors::nvidia::parse_information(
        "Model: \t\t Tesla V100-SXM2-16GB\n"
        "GPU UUID: \t GPU-edfee158-11c1-52b8-0517-92f30e7fac88\n"
        "Bus Location: \t 0000:06:00.0\nDevice Minor: \t 0\n");
    EXPECT_EQ(info["Model"], "Tesla V100-SXM2-16GB");
    EXPECT_EQ(info["Bus Location"], "0000:06:00.0");

    EXPECT_EQ(gantry::gpu_vendors::nvidia::normalize_pci_bus_id("0000:3b:00.0"),
              "00000000:3B:00.0");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::normalize_pci_bus_id("00000000:3B:00.0"),
              "00000000:3B:00.0");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::normalize_pci_bus_id("garbage"), "");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::normalize_pci_bus_id("0000:3b:00.0x"), "");
    EXPECT_EQ(
        gantry::gpu_vendors::nvidia::mig_profile_from_name("NVIDIA A100-SXM4-80GB MIG 1g.10gb"),
        "1g.10gb");
    EXPECT_EQ(
        gantry::gpu_vendors::nvidia::mig_profile_from_name("NVIDIA A100-SXM4-40GB MIG 1c.2g.10gb"),
        "1c.2g.10gb");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::mig_profile_from_name("NVIDIA A100-SXM4-80GB"), "");
}

TEST(NvidiaHostParse, ParamsForContainerTurnOffDeviceFileModification) {
    EXPECT_EQ(gantry::gpu_vendors::nvidia::params_for_container(
                  "ModifyDeviceFiles: 1\nDeviceFileMode: 438\n"),
              "ModifyDeviceFiles: 0\nDeviceFileMode: 438\n");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::params_for_container(
                  "ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 1\n"),
              "ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 0\n");
    // only the parameter itself, at the start of a line; nothing to change: nullopt
    EXPECT_EQ(gantry::gpu_vendors::nvidia::params_for_container("XModifyDeviceFiles: 1\n"),
              std::nullopt);
    EXPECT_EQ(gantry::gpu_vendors::nvidia::params_for_container("ModifyDeviceFiles: 0\n"),
              std::nullopt);
    EXPECT_EQ(gantry::gpu_vendors::nvidia::params_for_container(""), std::nullopt);
}

} // namespace nvidia_host_parse_test
