// gpu_vendors/nvidia/host: gpu_vendors::nvidia::Host, what an NVIDIA driver installation offers
// containers, discovered from a driver root (libraries, binaries, firmware, IPC sockets) and a
// device root (device nodes), like nvidia-ctk's --driver-root / --dev-root. It only describes the
// host; the shared gpu_host::DeviceNode and gpu_host::join_root are gpu_host/device_node.hpp's.
#pragma once

#include "gpu_host/device_node.hpp"
#include "gpu_vendors/in_root.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

// The machine whose driver layout discovery reads: which ld.so.cache entries and ELF objects are
// the driver's, Debian's multiarch directory, the per-architecture file names (Vulkan's
// nvidia_icd.<machine>.json), whether 32-bit companions exist (x86-64 only). An x86-64 host's
// driver, or an arm64 server's (NVIDIA's "sbsa" driver: Grace Hopper, Grace Blackwell): the
// same driver files under /usr/lib/aarch64-linux-gnu. Discovery reads the build's own machine,
// as nvidia-ctk does (GOARCH); tests read a simulated host of the other.
enum class Machine { x86_64, aarch64 };
Machine native_machine();
const char* to_string(Machine m);     // "x86_64", "aarch64" (uname -m)
const char* multiarch(Machine m);     // "x86_64-linux-gnu", "aarch64-linux-gnu"
std::uint16_t elf_machine(Machine m); // EM_X86_64, EM_AARCH64

// NVIDIA_DRIVER_CAPABILITIES values.
enum class Capability { compute, utility, video, graphics, display, ngx, compat32 };
const char* to_string(Capability c);
std::optional<Capability> capability_from_string(const std::string& s);
using Capabilities = std::set<Capability>;
Capabilities all_capabilities();
std::string to_string(const Capabilities& caps); // "compute,utility" (enum order)

struct MigDevice {
    int gpu_index = 0; // parent GPU index
    int gi = 0, ci = 0;
    std::string uuid;    // MIG-...
    std::string profile; // e.g. "1g.10gb"
    std::uint64_t memory = 0;
    gpu_host::DeviceNode gi_cap,
        ci_cap; // /dev/nvidia-caps/nvidia-capN for gpu<minor>/gi<gi>[/ci<ci>]/access
};

struct Device {
    int index = 0;                  // NVML index (0-based, PCI bus order)
    int minor = 0;                  // /dev/nvidia<minor>
    std::string uuid;               // GPU-...
    std::string name;               // "NVIDIA A100-SXM4-80GB"
    std::string brand;              // "Tesla", "GeForce", ... (NVIDIA_REQUIRE_* brand=)
    std::string pci_bus_id;         // "00000000:3B:00.0"
    int cc_major = 0, cc_minor = 0; // compute capability
    std::uint64_t memory = 0;       // bytes
    bool mig_enabled = false;
    int persistence = -1; // NVML persistence mode: 1 enabled, 0 disabled, -1 unknown
    std::vector<MigDevice> migs;
    gpu_host::DeviceNode node; // /dev/nvidia<minor>
    std::string proc_dir; // host /proc/driver/nvidia/gpus/<bus id> (for injection), may be empty
};

struct Library {
    std::string host_path; // the real file (symlinks resolved), under the driver root
    std::string name;      // file name, e.g. libcuda.so.580.95.05
    std::string soname;    // DT_SONAME, e.g. libcuda.so.1 (may equal name)
    bool lib32 = false;    // 32-bit (compat32)
    Capabilities caps;     // capabilities that select it (empty: always with any capability)

    // Selected by a request: one of caps (or caps empty), and compat32 too when lib32.
    bool selected_by(const Capabilities& requested) const;
};

struct HostFile {
    std::string host_path;      // real file on the host
    std::string container_path; // where it goes in the container
    Capabilities caps;          // capabilities that select it (empty: always)

    bool selected_by(const Capabilities& requested) const;
};

struct IpcSocket {
    std::string host_path;
    std::string container_path;
    Capability cap; // utility (persistenced, fabricmanager) or compute (MPS)
};

// A Jetson (Tegra) board, as nvidia-ctk's csv mode sees it (tegra.hpp): its integrated GPU is
// reached through the device nodes and files NVIDIA's L4T mount lists name (tegra_csv.hpp:
// /etc/nvidia-container-runtime/host-files-for-container.d/*.csv), not a dGPU driver's layout.
struct TegraLink {
    std::string target; // what the link holds, as the host's link has it
    std::string path;   // the link (in-root, absolute)
};
struct TegraBoard {
    std::string why;     // what made this a Tegra host ("/etc/nv_tegra_release found", ...)
    std::string release; // the first line of /etc/nv_tegra_release ("# R36 (release), ...")
    std::string soc;     // "tegra234" (the device tree's compatible), "" when unknown
    std::string model;   // "NVIDIA Jetson AGX Orin Developer Kit" (the device tree's model)
    std::vector<std::string> csv_files;      // host paths read, in name order
    std::vector<std::string> skipped;        // "FILE:LINE: REASON: TEXT", one a line
    std::vector<gpu_host::DeviceNode> nodes; // dev entries present (patterns expanded)
    std::vector<HostFile> files;             // lib entries that are no ELF library, the release
    std::vector<HostFile> dirs;              // dir entries
    std::vector<TegraLink> links;            // sym entries: every link of each chain
    std::vector<std::string> library_dirs;   // in-root directories of the lib and sym entries
};

struct Host {
    Machine machine = native_machine();
    std::string driver_root = "/";
    std::string dev_root = "/";
    std::string driver_version; // "580.95.05" (RM version)
    int cuda_version = 0;       // newest CUDA the driver serves, 1000*major+10*minor (13000)
    bool nvml_loaded = false;   // GPUs came from NVML (else /proc)
    bool wsl = false;
    bool tegra = false; // a Jetson: board holds what containers get (the libraries too)
    TegraBoard board;
    std::vector<Device> devices;
    std::vector<Library> libraries;
    std::vector<HostFile> binaries; // nvidia-smi, MPS, persistenced ... -> /usr/bin
    std::vector<HostFile> firmware; // GSP firmware -> /lib/firmware/nvidia/<ver>/
    std::vector<HostFile> configs;  // ICD/vendor files (Vulkan, EGL, OpenCL) -> same path
    std::vector<IpcSocket> ipc;
    gpu_host::DeviceNode ctl, uvm, uvm_tools,
        modeset;              // /dev/nvidiactl, nvidia-uvm(-tools), modeset
    gpu_host::DeviceNode dxg; // /dev/dxg: the only GPU node on WSL (wsl == true)
    std::vector<gpu_host::DeviceNode> mig_config_caps; // mig config/monitor caps (management only)
    std::string proc_root;          // host dir holding driver/nvidia/{version,params,gpus/...}
    std::vector<std::string> notes; // what discovery found or missed, one line each
    std::string ldcache_path;       // the driver root's ld.so.cache that was read (host path)
    std::string nvml_path;          // the libnvidia-ml.so.1 used (host path), empty if none
    // WSL2 (wsl == true): the driver stores (host dirs usr/lib/wsl/drivers/<inf>_<hash>) that
    // hold libcuda.so.1.1, the first one the driver's (its files are in libraries, binaries and
    // configs, mounted at their own paths); and Linux driver libraries installed inside the
    // distribution (in-root paths), which shadow the Windows driver for programs of the host.
    std::vector<std::string> wsl_driver_store;
    std::vector<std::string> wsl_shadowing;

    // A driver version, or a Jetson's L4T mount lists (its CUDA driver is the board's)
    bool has_driver() const { return !driver_version.empty() || tegra; }
};

struct DiscoverOptions {
    std::string driver_root = "/";
    std::string dev_root = "/";
    bool use_nvml = true; // dlopen DRIVERROOT's libnvidia-ml.so.1
    Machine machine = native_machine();
    std::string sys_root = "/"; // holds sys/: a Jetson's SoC (devices/soc0, the device tree)
};

// Never throws for a missing or partial driver: an empty driver_version and notes say why.
// The proc files are read from <driver_root>/proc when <driver_root>/proc/driver/nvidia exists
// (simulated hosts), else from /proc.
Host discover(const DiscoverOptions& opt);

// A human summary in the style of `nvidia-container-cli info`, followed by the notes.
std::string to_string(const Host& host);

// --- helpers discovery is built from (exposed for tests and for cdi/, compat/) ---------------

// The RM version in /proc/driver/nvidia/version ("580.95.05"), or "" when there is none.
std::string parse_proc_version(const std::string& text);
// True for "515.76" and "580.82.07" (major >= 100); false for "1", "1.1" or "580.x".
bool is_driver_version(const std::string& v);
// The newest CUDA the driver branch serves (13000 for 580.x), from the branch table; 0 if the
// version does not parse. Unknown branches take the nearest known one below (conservative).
int cuda_version_for_driver(const std::string& driver_version);
std::string cuda_version_string(int cuda_version); // 12090 -> "12.9"

// The capabilities that select a driver library by file name (§1.1 lists): compute libraries
// also go with video, graphics ones with display; names in no list are treated as graphics.
Capabilities library_capabilities(const std::string& file_name);

// Paths inside the driver root (gpu_vendors/in_root.hpp, what the vendors share)
using gpu_vendors::resolve_in_root;

// /proc/devices character majors by name.
std::map<std::string, std::int64_t> parse_proc_devices(const std::string& text);
// /proc/driver/nvidia-caps/mig-minors: "gpu0/gi1/ci0/access" -> 12.
std::map<std::string, std::int64_t> parse_mig_minors(const std::string& text);
// "Key: value" lines of /proc/driver/nvidia/gpus/*/information (trimmed).
std::map<std::string, std::string> parse_information(const std::string& text);
// "0000:3b:00.0" or "00000000:3B:00.0" -> "00000000:3B:00.0" (NVML's form); "" if malformed.
std::string normalize_pci_bus_id(const std::string& id);
// "NVIDIA A100-SXM4-80GB MIG 1g.10gb" -> "1g.10gb"; "" when the name has no MIG part.
std::string mig_profile_from_name(const std::string& name);
// The driver's /proc/driver/nvidia/params as a container should see it: "ModifyDeviceFiles: 1"
// turned to 0, so that the driver never creates or chmods device nodes on the container's
// behalf (nvidia-ctk's disable-device-node-modification). nullopt when there is nothing to
// turn off.
std::optional<std::string> params_for_container(std::string params);

} // namespace gantry::gpu_vendors::nvidia
