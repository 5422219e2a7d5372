// gpu_vendors/nvidia/tegra and tegra_csv: a Jetson's L4T mount lists parsed as hostile input (a
// test per class of line refused), nvidia-ctk's Tegra rule, a simulated Orin board discovered
// (nodes in the kernel's shapes, a pattern, a link chain, libraries, directories) and its CDI
// spec, and the doctor's findings for Orin (8.7) and Thor (11.0).
#include "../../support/gpu_test_support.hpp"
#include "gpu_vendors/nvidia/cdi.hpp"
#include "gpu_vendors/nvidia/doctor_rules.hpp"
#include "gpu_vendors/nvidia/host_cache.hpp"
#include "gpu_vendors/nvidia/tegra.hpp"
#include "gpu_vendors/nvidia/tegra_csv.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <set>
#include <string>
#include <vector>

namespace tegra_test {

using namespace gpu_test;
namespace nv = gantry::gpu_vendors::nvidia;
using nv::CsvKind;

namespace {

// The one reason a single line is skipped for ("" when it is taken).
std::string why(const std::string& line) {
    auto l = nv::parse_csv(line);
    if (l.skipped.empty()) return "";
    EXPECT_EQ(l.skipped.size(), 1u);
    EXPECT_TRUE(l.entries.empty());
    return l.skipped[0].reason;
}

bool has(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

const std::string A = "/usr/lib/aarch64-linux-gnu";

// A simulated Jetson AGX Orin (JetPack 5: no NVML): the release file, the SoC in sys/, the L4T
// mount lists, the nodes under dev/ (regular stand-in files, as rootless tests make them), the
// libraries (aarch64 objects) with a link chain, a directory, and lines a hostile tree adds.
struct Board {
    std::string root, dev, sys;
};

Board lay_out_orin(const std::string& base, const std::string& soc = "tegra234") {
    Board b{base + "/driver", base + "/dev", base + "/sys"};
    write(b.root + "/etc/nv_tegra_release",
          "# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64\n");
    write(b.sys + "/sys/devices/soc0/family", "Tegra\n");
    write(b.sys + "/sys/firmware/devicetree/base/compatible",
          std::string("nvidia,p3737-0000+p3701-0005") + '\0' + "nvidia,p3701-0005" + '\0' +
              "nvidia," + soc + '\0');
    write(b.sys + "/sys/firmware/devicetree/base/model",
          std::string("NVIDIA Jetson AGX Orin Developer Kit") + '\0');
    const std::string csv = b.root + nv::kTegraCsvDir;
    write(csv + "/devices.csv", "dev, /dev/nvmap\n"
                                "dev, /dev/nvhost-ctrl-gpu\n"
                                "dev, /dev/nvgpu/igpu0/ctrl\n"
                                "dev, /dev/dri/card*\n"
                                "dev, /dev/not-on-this-board\n"
                                "dir, /dev/dri/by-path\n");
    write(csv + "/drivers.csv",
          "lib, " + A +
              "/nvidia/libcuda.so.1.1\r\n" // CRLF, as some boards ship them
              "sym, " +
              A +
              "/libcuda.so\n"
              "lib, /etc/vulkansc/icd.d/nvidia_icd_vksc.json\n"
              "dir, /usr/lib/aarch64-linux-gnu/tegra-egl\n"
              "# a comment, then a blank line\n\n"
              "lib, /../../etc/shadow\n"
              "lib, etc/passwd\n"
              "mount, /usr/lib/x.so\n");
    write(csv + "/README", "not a mount list\n");
    for (const char* n : {"nvmap", "nvhost-ctrl-gpu", "nvgpu/igpu0/ctrl", "dri/card0", "dri/card1",
                          "dri/renderD128"})
        write(b.dev + "/dev/" + n, "");
    write(b.root + "/dev/dri/by-path/platform-gpu-card", ""); // dir entries: the driver root's
    write(b.root + A + "/nvidia/libcuda.so.1.1", make_elf(64, elf::em_aarch64, "libcuda.so.1"));
    // the chain: libcuda.so -> libcuda.so.1 -> nvidia/libcuda.so.1.1
    link(b.root + A + "/libcuda.so", "libcuda.so.1");
    link(b.root + A + "/libcuda.so.1", "nvidia/libcuda.so.1.1");
    write(b.root + "/etc/vulkansc/icd.d/nvidia_icd_vksc.json", "{}");
    write(b.root + A + "/tegra-egl/ld.so.conf", "x");
    write(base + "/outside/secret", "s");
    return b;
}

nv::Host discover(const Board& b) {
    nv::DiscoverOptions o{b.root, b.dev, false};
    o.sys_root = b.sys;
    return nv::discover(o);
}

std::string notes(const nv::Host& h) {
    std::string s;
    for (const auto& n : h.notes) s += n + "\n";
    for (const auto& n : h.board.skipped) s += "skipped: " + n + "\n";
    return s;
}

} // namespace

// ------------------------------------------------------------------------------ the CSV lines

TEST(TegraCsv, ReadsNvidiaCtksLines) {
    auto l = nv::parse_csv("dev, /dev/nvhost-ctrl-gpu\n"
                           "  lib ,\t/usr/lib/aarch64-linux-gnu/nvidia/libcuda.so.1.1  \r\n"
                           "sym, /usr/lib/aarch64-linux-gnu//libcuda.so/\n"
                           "dir, /usr/lib/aarch64-linux-gnu/tegra\n"
                           "dev, /dev/dri/card*\n"
                           "\n# comment\n   \n");
    ASSERT_TRUE(l.skipped.empty()) << l.skipped[0].reason;
    ASSERT_EQ(l.entries.size(), 5u);
    EXPECT_EQ(l.entries[0].kind, CsvKind::dev);
    EXPECT_EQ(l.entries[1].kind, CsvKind::lib);
    EXPECT_EQ(l.entries[1].path, "/usr/lib/aarch64-linux-gnu/nvidia/libcuda.so.1.1");
    EXPECT_EQ(l.entries[1].line, 2);
    EXPECT_EQ(l.entries[2].path, "/usr/lib/aarch64-linux-gnu/libcuda.so"); // "//", "/" collapsed
    EXPECT_EQ(l.entries[3].kind, CsvKind::dir);
    EXPECT_TRUE(nv::csv_is_pattern(l.entries[4].path));
}

TEST(TegraCsv, DotDotComponentsAreRefused) {
    EXPECT_TRUE(has(why("lib, /usr/lib/../../etc/shadow"), "\"..\""));
    EXPECT_TRUE(has(why("dev, /dev/../etc/passwd"), "\"..\""));
    EXPECT_TRUE(has(why("sym, /usr/lib/."), "\".\""));
}

TEST(TegraCsv, RelativePathsAreRefused) {
    EXPECT_TRUE(has(why("dev, nvidiactl"), "not an absolute path")); // the old jetson.csv form
    EXPECT_TRUE(has(why("lib, usr/lib/libcuda.so"), "not an absolute path"));
}

TEST(TegraCsv, UnknownKindsAndMalformedLinesAreRefused) {
    EXPECT_TRUE(has(why("mount, /usr/lib/x.so"), "unknown kind \"mount\""));
    EXPECT_TRUE(has(why("DEV, /dev/nvmap"), "unknown kind"));
    EXPECT_TRUE(has(why("lib /usr/lib/x.so"), "not \"KIND, PATH\""));
    EXPECT_TRUE(has(why("lib,"), "no path"));
}

TEST(TegraCsv, ControlCharactersAreRefused) {
    EXPECT_TRUE(has(why(std::string("lib, /usr/lib/x\0y.so", 20)), "control character"));
    EXPECT_TRUE(has(why("lib, /usr/lib/x\x1b[2J.so"), "control character"));
    auto l = nv::parse_csv("lib, /a\x01"
                           "b\n");
    ASSERT_EQ(l.skipped.size(), 1u);
    EXPECT_EQ(l.skipped[0].text, "lib, /a?b"); // shown without the character
}

TEST(TegraCsv, PatternsOnlyInADevicesName) {
    EXPECT_TRUE(has(why("dev, /dev/*/card0"), "pattern in a directory component"));
    EXPECT_TRUE(has(why("lib, /usr/lib/libcuda*"), "pattern in a lib entry"));
    EXPECT_EQ(why("dev, /dev/nvhost-*"), "");
}

TEST(TegraCsv, DevicesOnlyUnderDev) {
    EXPECT_TRUE(has(why("dev, /etc/shadow"), "a device outside /dev"));
    EXPECT_TRUE(has(why("dev, /devil/x"), "a device outside /dev"));
}

TEST(TegraCsv, ProcSysTheRootAndTopLevelDirectoriesAreRefused) {
    EXPECT_TRUE(has(why("dir, /proc/1/root"), "under /proc or /sys"));
    EXPECT_TRUE(has(why("lib, /sys/kernel/x"), "under /proc or /sys"));
    EXPECT_TRUE(has(why("dir, /"), "the root directory itself"));
    EXPECT_TRUE(has(why("dir, //"), "the root directory itself"));
    EXPECT_TRUE(has(why("dir, /usr"), "top-level directory"));
    EXPECT_EQ(why("dir, /usr/src/tensorrt"), "");
}

TEST(TegraCsv, OverlongPathsAreRefused) {
    EXPECT_TRUE(has(why("lib, /" + std::string(5000, 'a')), "longer than PATH_MAX"));
}

// ---------------------------------------------------------------------- nvidia-ctk's Tegra rule

TEST(TegraDetect, ReleaseFileOrTegraFamilyWithoutNvmlOrAnIntegratedGpu) {
    GpuTempDir t;
    EXPECT_EQ(nv::tegra_files_reason(t.str(), t.str()), "");
    write(t.str() + "/sys/devices/soc0/family", "tegra\n");
    EXPECT_TRUE(has(nv::tegra_files_reason(t.str(), t.str()), "says Tegra"));
    write(t.str() + "/sys/devices/soc0/family", "jep106:0426\n"); // an sbsa server's
    EXPECT_EQ(nv::tegra_files_reason(t.str(), t.str()), "");
    write(t.str() + "/etc/nv_tegra_release", "# R36 (release)\n");
    EXPECT_TRUE(has(nv::tegra_files_reason(t.str(), t.str()), "nv_tegra_release found"));
    EXPECT_TRUE(nv::is_integrated_gpu_name("Orin (nvgpu)"));
    EXPECT_TRUE(nv::is_integrated_gpu_name("NVIDIA Thor"));
    EXPECT_FALSE(nv::is_integrated_gpu_name("NVIDIA GH200 480GB"));
    EXPECT_EQ(nv::tegra_soc(std::string("nvidia,p3701\0nvidia,tegra234\0", 29)), "tegra234");
    EXPECT_EQ(nv::tegra_soc(std::string("nvidia,tegra234x\0arm,tegra\0", 27)), "");
    EXPECT_EQ(nv::tegra_compute_capability("tegra234"), std::make_pair(8, 7));
    EXPECT_EQ(nv::tegra_compute_capability("tegra264"), std::make_pair(11, 0));
    EXPECT_FALSE(nv::tegra_compute_capability("tegra999"));

    // The board's files with NVML there: not a Tegra host by the files alone (nvidia-ctk's
    // rule; NVML's device names then decide), so the dGPU layout is read.
    Board b = lay_out_orin(t.str() + "/nvml");
    write(b.root + A + "/libnvidia-ml.so.1", make_elf(64, elf::em_aarch64, "libnvidia-ml.so.1"));
    nv::DiscoverOptions o{b.root, b.dev, false, nv::Machine::aarch64};
    o.sys_root = b.sys;
    EXPECT_FALSE(nv::discover(o).tegra);
}

// ------------------------------------------------------------------- a simulated Orin board

TEST(TegraDiscover, OrinBoardFromItsMountLists) {
    GpuTempDir t;
    Board b = lay_out_orin(t.str());
    nv::Host h = discover(b);
    ASSERT_TRUE(h.tegra) << notes(h);
    EXPECT_TRUE(has(h.board.why, "nv_tegra_release found")) << h.board.why;
    EXPECT_TRUE(has(h.board.release, "R35 (release), REVISION: 4.1"));
    EXPECT_EQ(h.board.soc, "tegra234");
    EXPECT_EQ(h.board.csv_files.size(), 2u); // README is no *.csv
    // the nodes: listed ones that exist, the pattern expanded (cards, not renderD128)
    std::vector<std::string> nodes;
    for (const auto& n : h.board.nodes) {
        nodes.push_back(n.path);
        EXPECT_TRUE(n.present);
        EXPECT_EQ(n.host_path, b.dev + n.path);
    }
    EXPECT_EQ(nodes, (std::vector<std::string>{"/dev/nvmap", "/dev/nvhost-ctrl-gpu",
                                               "/dev/nvgpu/igpu0/ctrl", "/dev/dri/card0",
                                               "/dev/dri/card1"}));
    // libcuda (an ELF library) from the lib entry; the sym entry's chain, each link
    ASSERT_EQ(h.libraries.size(), 1u) << notes(h);
    EXPECT_EQ(h.libraries[0].host_path, b.root + A + "/nvidia/libcuda.so.1.1");
    EXPECT_EQ(h.libraries[0].soname, "libcuda.so.1");
    std::vector<std::string> links;
    for (const auto& l : h.board.links) links.push_back(l.target + "::" + l.path);
    EXPECT_EQ(links, (std::vector<std::string>{"libcuda.so.1::" + A + "/libcuda.so",
                                               "nvidia/libcuda.so.1.1::" + A + "/libcuda.so.1"}));
    std::set<std::string> files, dirs;
    for (const auto& f : h.board.files) files.insert(f.container_path);
    for (const auto& d : h.board.dirs) dirs.insert(d.container_path);
    EXPECT_EQ(files, (std::set<std::string>{"/etc/nv_tegra_release",
                                            "/etc/vulkansc/icd.d/nvidia_icd_vksc.json"}));
    EXPECT_EQ(dirs, (std::set<std::string>{"/dev/dri/by-path", A + "/tegra-egl"}));
    // the hostile lines, each with its file, line and reason
    ASSERT_EQ(h.board.skipped.size(), 3u) << notes(h);
    EXPECT_TRUE(has(h.board.skipped[0], "drivers.csv:7: a \"..\" component")) << notes(h);
    EXPECT_TRUE(has(h.board.skipped[1], "drivers.csv:8: not an absolute path"));
    EXPECT_TRUE(has(h.board.skipped[2], "drivers.csv:9: unknown kind \"mount\""));
    // every host path inside its root
    for (const auto& l : h.libraries) EXPECT_TRUE(l.host_path.starts_with(b.root + "/"));
    for (const auto* v : {&h.board.files, &h.board.dirs})
        for (const auto& f : *v) EXPECT_TRUE(f.host_path.starts_with(b.root + "/")) << f.host_path;
    // the one integrated GPU, from the device tree
    ASSERT_EQ(h.devices.size(), 1u);
    EXPECT_EQ(h.devices[0].name, "NVIDIA Jetson AGX Orin Developer Kit");
    EXPECT_EQ(h.devices[0].cc_major, 8);
    EXPECT_EQ(h.devices[0].cc_minor, 7);
    EXPECT_TRUE(h.has_driver());
    EXPECT_TRUE(h.binaries.empty()); // nothing of the dGPU layout
}

// The per-boot cache keeps what a run and the doctor read of the board (an entry without it read
// back a Jetson as a host without a driver).
TEST(TegraDiscover, CacheEntryKeepsTheBoard) {
    GpuTempDir t;
    nv::Host h = discover(lay_out_orin(t.str()));
    ASSERT_TRUE(h.tegra);
    nv::Host back = nv::host_from_json(nv::host_to_json(h));
    EXPECT_TRUE(back.tegra);
    EXPECT_EQ(back.machine, h.machine);
    EXPECT_EQ(back.board.why, h.board.why);
    EXPECT_EQ(back.board.soc, "tegra234");
    EXPECT_EQ(back.board.skipped, h.board.skipped);
    ASSERT_EQ(back.board.nodes.size(), h.board.nodes.size());
    EXPECT_EQ(back.board.nodes[0].host_path, h.board.nodes[0].host_path);
    ASSERT_EQ(back.board.links.size(), 2u);
    EXPECT_EQ(back.board.links[1].target, "nvidia/libcuda.so.1.1");
    EXPECT_EQ(back.board.files.size(), h.board.files.size());
    EXPECT_EQ(back.board.dirs.size(), h.board.dirs.size());
    EXPECT_EQ(back.board.library_dirs, h.board.library_dirs);
    EXPECT_EQ(nv::host_to_json(back), nv::host_to_json(h));
}

TEST(TegraDiscover, LinksOutOfTheRootAndNonNodesAreNotTaken) {
    GpuTempDir t;
    Board b = lay_out_orin(t.str());
    const std::string csv = b.root + nv::kTegraCsvDir;
    write(csv + "/l4t.csv", "lib, /usr/lib/escape.so\n"
                            "sym, /usr/lib/loop.so\n"
                            "dev, /dev/link-out\n"
                            "dev, /dev/a-dir\n");
    link(b.root + "/usr/lib/escape.so", t.str() + "/outside/secret"); // absolute: in the root
    link(b.root + "/usr/lib/loop.so", "loop.so");
    link(b.dev + "/dev/link-out", "../../outside/secret"); // ".." stays in the dev root
    stdfs::create_directories(b.dev + "/dev/a-dir");
    nv::Host h = discover(b);
    ASSERT_TRUE(h.tegra);
    for (const auto& f : h.board.files) EXPECT_FALSE(has(f.host_path, "secret")) << f.host_path;
    for (const auto& n : h.board.nodes) {
        EXPECT_NE(n.path, "/dev/link-out");
        EXPECT_NE(n.path, "/dev/a-dir");
    }
    EXPECT_TRUE(std::any_of(h.board.skipped.begin(), h.board.skipped.end(), [](auto& s) {
        return has(s, "/dev/a-dir") && has(s, "not a character device");
    })) << notes(h);
    EXPECT_TRUE(std::any_of(h.board.skipped.begin(), h.board.skipped.end(), [](auto& s) {
        return has(s, "more than 16 links");
    })) << notes(h);
}

// ----------------------------------------------------------------------------- its CDI spec

TEST(TegraCdi, SpecHasTheBoardsNodesInItsDeviceAndItsFilesInCommon) {
    GpuTempDir t;
    Board b = lay_out_orin(t.str());
    nv::Host h = discover(b);
    nv::GenerateOptions opt;
    opt.gantry_path = "/usr/bin/gantry";
    std::vector<std::string> warnings;
    auto spec = nv::generate(h, opt, &warnings);
    std::vector<std::string> names;
    for (const auto& d : spec.devices) names.push_back(d.name);
    EXPECT_EQ(names, (std::vector<std::string>{"0", "all"})); // no UUID without NVML
    EXPECT_EQ(warnings, (std::vector<std::string>{"GPU 0 has no UUID: named by index"}));
    std::vector<std::string> nodes;
    for (const auto& n : spec.devices[0].edits.device_nodes) nodes.push_back(n.path);
    EXPECT_EQ(nodes.size(), 5u);
    EXPECT_EQ(nodes[0], "/dev/nvmap");
    EXPECT_EQ(spec.devices[0].edits.device_nodes[0].host_path, b.dev + "/dev/nvmap");
    EXPECT_TRUE(spec.edits.device_nodes.empty());
    std::vector<std::string> mounts;
    for (const auto& m : spec.edits.mounts) {
        mounts.push_back(m.container_path);
        EXPECT_EQ(m.host_path, b.root + m.container_path);
        EXPECT_EQ(m.options[0], "ro");
    }
    EXPECT_EQ(mounts,
              (std::vector<std::string>{A + "/nvidia/libcuda.so.1.1", "/etc/nv_tegra_release",
                                        "/etc/vulkansc/icd.d/nvidia_icd_vksc.json",
                                        "/dev/dri/by-path", A + "/tegra-egl"}));
    EXPECT_EQ(spec.edits.env, (std::vector<std::string>{"NVIDIA_CTK_LIBCUDA_DIR=" + A + "/nvidia",
                                                        "NVIDIA_VISIBLE_DEVICES=void"}));
    std::vector<std::string> subs;
    for (const auto& hk : spec.edits.hooks) {
        subs.push_back(hk.args.at(2));
        if (hk.args[2] == "create-symlinks") {
            EXPECT_EQ(hk.args, (std::vector<std::string>{
                                   "gantry", "hook", "create-symlinks", "--link",
                                   "libcuda.so.1.1::" + A + "/nvidia/libcuda.so.1", "--link",
                                   "libcuda.so.1::" + A + "/nvidia/libcuda.so", "--link",
                                   "libcuda.so.1::" + A + "/libcuda.so", "--link",
                                   "nvidia/libcuda.so.1.1::" + A + "/libcuda.so.1"}));
        }
        if (hk.args[2] == "update-ldcache") {
            EXPECT_EQ(hk.args,
                      (std::vector<std::string>{"gantry", "hook", "update-ldcache", "--folder", A,
                                                "--folder", A + "/nvidia"}));
        }
    }
    // no dGPU kernel module: no params file to hide
    EXPECT_EQ(subs, (std::vector<std::string>{"create-symlinks", "update-ldcache"}));
}

// --------------------------------------------------------------------------------- doctor

TEST(TegraDoctor, OrinAndThorBoards) {
    GpuTempDir t;
    for (const auto& [soc, cc] :
         {std::pair<std::string, std::string>{"tegra234", "8.7"}, {"tegra264", "11.0"}}) {
        SCOPED_TRACE(soc);
        Board b = lay_out_orin(t.str() + "/" + soc, soc);
        nv::Host h = discover(b);
        auto f = nv::check_host(h);
        auto find = [&](const std::string& id) -> const gantry::findings::Finding* {
            for (const auto& x : f)
                if (x.id == id) return &x;
            return nullptr;
        };
        ASSERT_TRUE(find("HOST-TEGRA"));
        EXPECT_TRUE(has(find("HOST-TEGRA")->message, "SoC " + soc));
        ASSERT_TRUE(find("HOST-GPU"));
        EXPECT_TRUE(has(find("HOST-GPU")->message, "compute capability " + cc))
            << find("HOST-GPU")->message;
        ASSERT_TRUE(find("HOST-TEGRA-CSV-SKIPPED"));
        EXPECT_EQ(find("HOST-TEGRA-CSV-SKIPPED")->severity, gantry::findings::Severity::warn);
        ASSERT_TRUE(find("HOST-TEGRA-CUDA"));
        EXPECT_FALSE(find("HOST-TEGRA-NO-CSV"));
        EXPECT_FALSE(find("HOST-NO-DRIVER"));
    }
    // without mount lists: a failure naming the directory
    Board b = lay_out_orin(t.str() + "/bare");
    stdfs::remove_all(b.root + nv::kTegraCsvDir);
    auto f = nv::check_host(discover(b));
    EXPECT_TRUE(std::any_of(f.begin(), f.end(), [&](const auto& x) {
        return x.id == "HOST-TEGRA-NO-CSV" && x.severity == gantry::findings::Severity::fail &&
               has(x.message, "host-files-for-container.d");
    }));
}

} // namespace tegra_test
