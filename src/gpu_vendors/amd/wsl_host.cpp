// gpu_vendors/amd/wsl_host.cpp: discover_wsl, what a WSL2 host offers AMD GPUs (wsl.hpp). Apart
// from the rest of wsl.cpp so that the fuzz harness of the driver-store discovery
// (fuzz/fuzz_wsl_driver_store.cpp) links it without the doctor's and the injection's code.
#include "gpu_host/device_node.hpp"
#include "gpu_vendors/amd/wsl.hpp"
#include "gpu_vendors/in_root.hpp"

#include <algorithm>
#include <filesystem>
#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace gantry::gpu_vendors::amd {

namespace {

// The host path of IN_ROOT resolved inside ROOT (absolute links and ".." stay in it, as
// NVIDIA's discovery resolves them), when it is a regular file; "" otherwise. A driver root other
// than "/" (a mounted host root) commonly holds /opt/rocm -> /opt/rocm-7.1.0: followed on this
// host, such a link named another file or one outside the root.
std::string regular_in_root(const std::string& root, const std::string& in_root) {
    auto resolved = resolve_in_root(root, in_root);
    if (!resolved) return {};
    std::string host = gpu_host::join_root(root, *resolved);
    struct stat st {};
    return ::lstat(host.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? host : std::string();
}

} // namespace

WslHost discover_wsl(const Roots& roots) {
    WslHost h;
    h.dxg.path = "/dev/dxg";
    h.dxg.host_path = gpu_host::join_root(roots.dev_root, "/dev/dxg");
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
    h.dxcore = regular_in_root(roots.driver_root, "/usr/lib/wsl/lib/libdxcore.so");
    std::vector<std::string> dirs = {"/opt/rocm/lib"};
    std::error_code ec;
    std::vector<std::string> versioned;
    auto opt = resolve_in_root(roots.driver_root, "/opt");
    for (const auto& e : std::filesystem::directory_iterator(
             opt ? gpu_host::join_root(roots.driver_root, *opt) : std::string(), ec))
        if (e.path().filename().string().starts_with("rocm-"))
            versioned.push_back("/opt/" + e.path().filename().string() + "/lib");
    std::sort(versioned.rbegin(), versioned.rend()); // the newest release first
    dirs.insert(dirs.end(), versioned.begin(), versioned.end());
    dirs.insert(dirs.end(), {"/usr/lib/x86_64-linux-gnu", "/usr/local/lib"});
    for (const auto& d : dirs) {
        h.rocdxg = regular_in_root(roots.driver_root, d + "/librocdxg.so");
        if (!h.rocdxg.empty()) break;
    }
    return h;
}

} // namespace gantry::gpu_vendors::amd
