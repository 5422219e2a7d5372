// gpu_vendors/amd/wsl_host.cpp: discover_wsl reads the driver root as a root, its links resolved
// inside it (as NVIDIA's discovery does; found by fuzz/fuzz_wsl_driver_store.cpp).
#include "gpu_vendors/amd/wsl.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>

namespace {

namespace wslfs = std::filesystem;

struct WslRootTree {
    WslRootTree() {
        char tmpl[] = "/tmp/gantry-wsl-host-XXXXXX";
        EXPECT_NE(::mkdtemp(tmpl), nullptr);
        root = tmpl;
    }
    ~WslRootTree() {
        std::error_code ec;
        wslfs::remove_all(root, ec);
    }
    void file(const std::string& in_root) const {
        wslfs::create_directories(wslfs::path(root + in_root).parent_path());
        std::ofstream(root + in_root) << "x";
    }
    void link(const std::string& in_root, const std::string& target) const {
        wslfs::create_directories(wslfs::path(root + in_root).parent_path());
        wslfs::create_symlink(target, root + in_root);
    }
    gantry::gpu_vendors::Roots roots() const {
        gantry::gpu_vendors::Roots r;
        r.driver_root = root;
        r.dev_root = root;
        return r;
    }
    std::string root;
};

} // namespace

// /opt/rocm -> /opt/rocm-7.1.0 (how ROCm installs it) is followed inside the driver root, and the
// host path returned is the real file there.
TEST(AmdWslHost, AbsoluteLinksResolveInsideTheDriverRoot) {
    WslRootTree t;
    t.file("/opt/rocm-7.1.0/lib/librocdxg.so");
    t.link("/opt/rocm", "/opt/rocm-7.1.0");
    t.file("/usr/lib/wsl/lib/real-dxcore.so");
    t.link("/usr/lib/wsl/lib/libdxcore.so", "/usr/lib/wsl/lib/real-dxcore.so");
    auto h = gantry::gpu_vendors::amd::discover_wsl(t.roots());
    EXPECT_EQ(h.rocdxg, t.root + "/opt/rocm-7.1.0/lib/librocdxg.so");
    EXPECT_EQ(h.dxcore, t.root + "/usr/lib/wsl/lib/real-dxcore.so");
}

// A link naming a file of this host (outside the driver root) is not that file: before the fix,
// /etc/passwd was offered as librocdxg.so and would have been mounted into the container.
TEST(AmdWslHost, LinksOutOfTheDriverRootNameNothing) {
    WslRootTree t;
    t.link("/opt/rocm/lib/librocdxg.so", "/etc/passwd");
    t.link("/usr/lib/wsl/lib/libdxcore.so", "../../../../../../../etc/hostname");
    auto h = gantry::gpu_vendors::amd::discover_wsl(t.roots());
    EXPECT_EQ(h.rocdxg, "");
    EXPECT_EQ(h.dxcore, "");
    t.file("/usr/lib/x86_64-linux-gnu/librocdxg.so");
    h = gantry::gpu_vendors::amd::discover_wsl(t.roots());
    EXPECT_EQ(h.rocdxg, t.root + "/usr/lib/x86_64-linux-gnu/librocdxg.so");
}
