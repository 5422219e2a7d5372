// gpu_vendors/amd/wsl_host.cpp: discover_wsl, what a WSL2 host offers AMD GPUs (wsl.hpp). Apart
// from the rest of wsl.cpp so that the fuzz harness of the driver-store discovery
// (fuzz/fuzz_wsl_driver_store.cpp) links it without the doctor's and the injection's code.
#include "gpu/device_node.hpp"
#include "gpu_vendors/amd/wsl.hpp"

#include <algorithm>
#include <filesystem>
#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace gantry::gpu_vendors::amd {

namespace {

bool regular(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

} // namespace

WslHost discover_wsl(const Roots& roots) {
    WslHost h;
    h.dxg.path = "/dev/dxg";
    h.dxg.host_path = gpu::join_root(roots.dev_root, "/dev/dxg");
    h.dxg.major = 10; // misc, with a dynamic minor: read live
    struct stat st {};
    if (::stat(h.dxg.host_path.c_str(), &st) == 0) {
        h.dxg.present = true;
        if (S_ISCHR(st.st_mode)) {
            h.dxg.major = ::major(st.st_rdev);
            h.dxg.minor = ::minor(st.st_rdev);
        }
        h.dxg.mode = st.st_mode & 07777;
        h.dxg.uid = st.st_uid;
        h.dxg.gid = st.st_gid;
    }
    std::string dxcore = gpu::join_root(roots.driver_root, "/usr/lib/wsl/lib/libdxcore.so");
    if (regular(dxcore)) h.dxcore = dxcore;
    std::vector<std::string> dirs = {"/opt/rocm/lib"};
    std::error_code ec;
    std::vector<std::string> versioned;
    for (const auto& e :
         std::filesystem::directory_iterator(gpu::join_root(roots.driver_root, "/opt"), ec))
        if (e.path().filename().string().starts_with("rocm-"))
            versioned.push_back("/opt/" + e.path().filename().string() + "/lib");
    std::sort(versioned.rbegin(), versioned.rend()); // the newest release first
    dirs.insert(dirs.end(), versioned.begin(), versioned.end());
    dirs.insert(dirs.end(), {"/usr/lib/x86_64-linux-gnu", "/usr/local/lib"});
    for (const auto& d : dirs) {
        std::string p = gpu::join_root(roots.driver_root, d + "/librocdxg.so");
        if (regular(p)) {
            h.rocdxg = p;
            break;
        }
    }
    return h;
}

} // namespace gantry::gpu_vendors::amd
