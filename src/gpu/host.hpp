// gpu::Host: what an NVIDIA driver installation offers containers, discovered from a driver root
// (libraries, binaries, firmware, IPC sockets) and a device root (device nodes), like nvidia-ctk's
// --driver-root / --dev-root. gpu/ never touches a container: it only describes the host.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace gantry::gpu {

// NVIDIA_DRIVER_CAPABILITIES values.
enum class Capability { compute, utility, video, graphics, display, ngx, compat32 };
const char* to_string(Capability c);
std::optional<Capability> capability_from_string(const std::string& s);
using Capabilities = std::set<Capability>;
Capabilities all_capabilities();

struct DeviceNode {
    std::string path;      // path inside the container, e.g. /dev/nvidia0
    std::string host_path; // path on the host (under the dev root), e.g. DEVROOT/dev/nvidia0
    char type = 'c';
    std::int64_t major = 0, minor = 0; // read live from the host node (or /proc/devices)
    std::uint32_t mode = 0666;
    std::uint32_t uid = 0, gid = 0;
    bool present = false; // the host node exists
};

struct MigDevice {
    int gpu_index = 0; // parent GPU index
    int gi = 0, ci = 0;
    std::string uuid; // MIG-...
    std::string profile; // e.g. "1g.10gb"
    std::uint64_t memory = 0;
    DeviceNode gi_cap, ci_cap; // /dev/nvidia-caps/nvidia-capN for gpu<minor>/gi<gi>[/ci<ci>]/access
};

struct Device {
    int index = 0; // NVML index (0-based, PCI bus order)
    int minor = 0; // /dev/nvidia<minor>
    std::string uuid;     // GPU-...
    std::string name;     // "NVIDIA A100-SXM4-80GB"
    std::string brand;    // "Tesla", "GeForce", ... (NVIDIA_REQUIRE_* brand=)
    std::string pci_bus_id; // "00000000:3B:00.0"
    int cc_major = 0, cc_minor = 0; // compute capability
    std::uint64_t memory = 0;       // bytes
    bool mig_enabled = false;
    std::vector<MigDevice> migs;
    DeviceNode node; // /dev/nvidia<minor>
    std::string proc_dir; // host /proc/driver/nvidia/gpus/<bus id> (for injection), may be empty
};

struct Library {
    std::string host_path; // the real file (symlinks resolved), under the driver root
    std::string name;      // file name, e.g. libcuda.so.580.95.05
    std::string soname;    // DT_SONAME, e.g. libcuda.so.1 (may equal name)
    bool lib32 = false;    // 32-bit (compat32)
    Capabilities caps;     // capabilities that select it (empty: always with any capability)
};

struct HostFile {
    std::string host_path;      // real file on the host
    std::string container_path; // where it goes in the container
    Capabilities caps;          // capabilities that select it
};

struct IpcSocket {
    std::string host_path;
    std::string container_path;
    Capability cap; // utility (persistenced, fabricmanager) or compute (MPS)
};

struct Host {
    std::string driver_root = "/";
    std::string dev_root = "/";
    std::string driver_version; // "580.95.05" (RM version)
    int cuda_version = 0;       // newest CUDA the driver serves, 1000*major+10*minor (13000)
    bool nvml_loaded = false;   // GPUs came from NVML (else /proc)
    bool wsl = false;
    std::vector<Device> devices;
    std::vector<Library> libraries;
    std::vector<HostFile> binaries; // nvidia-smi, MPS, persistenced ... -> /usr/bin
    std::vector<HostFile> firmware; // GSP firmware -> /lib/firmware/nvidia/<ver>/
    std::vector<IpcSocket> ipc;
    DeviceNode ctl, uvm, uvm_tools, modeset; // /dev/nvidiactl, nvidia-uvm(-tools), modeset
    std::vector<DeviceNode> mig_config_caps; // mig config/monitor caps (management only)
    std::string proc_root; // host dir holding driver/nvidia/{version,params,gpus/...}
    std::vector<std::string> notes; // what discovery found or missed, one line each

    bool has_driver() const { return !driver_version.empty(); }
};

struct DiscoverOptions {
    std::string driver_root = "/";
    std::string dev_root = "/";
    bool use_nvml = true; // dlopen DRIVERROOT's libnvidia-ml.so.1
};

// Never throws for a missing or partial driver: an empty driver_version and notes say why.
Host discover(const DiscoverOptions& opt);

} // namespace gantry::gpu
