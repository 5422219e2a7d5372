// gpu_host::amd topology: what an AMD (ROCm) host offers containers, read from the amdgpu driver's
// KFD sysfs topology under a sys root (sys/class/kfd/kfd/topology/nodes/*/{properties,gpu_id,name},
// topology/generation_id, sys/module/amdgpu/version, sys/class/drm/renderD<N>/device/drm/card*)
// and the device nodes under a dev root (dev/kfd, dev/dri/renderD<N>, dev/dri/card<M>), as
// libhsakmt and AMD's container toolkit read them (facts and sources: shared/reference/rocm.md
// §1-§2), including the compute partitions of MI300-class GPUs (see Partition). Every sysfs file is
// untrusted: reads are bounded, paths are resolved inside their root (openat2 RESOLVE_IN_ROOT),
// numbers are parsed strictly. Like the rest of gpu/, it only describes the host; the AMD backend
// (gpu_vendors/amd/) uses it.
#pragma once

#include "gpu_host/device_node.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_vendors::amd {

// One compute partition of a partitioned MI300-class GPU (CPX mode: 8 per MI300X).
// Verified from sources: each partition is its own KFD topology node whose drm_render_minor is
// the partition's render node (kfd_topology.c: `gpu->xcp ? gpu->xcp->ddev->render->index`) and
// whose location_id/domain are the parent PCI device's; partitions other than the first are
// platform devices /sys/devices/platform/amdgpu_xcp_<k> (amdgpu_xcp_drv.c, k global across
// GPUs) whose drm/ holds a card<M> and a renderD<N> of their own (the DRM core allocates a
// primary minor for every device without DRIVER_COMPUTE_ACCEL; AMD's toolkit fixtures list
// amdgpu_xcp_0/drm/{card1,renderD129}); in ROCm's driver partition 0 keeps the PCI device's
// nodes ("xcp #0 shares drm device setting with adev"), mainline gives every partition a platform
// device. unique_id is the parent's on older kernels and the partition's own XCD id on newer ones
// (kfd_topology.c node_show). AMD's toolkit groups partitions under their PCI device and orders
// them by render minor; so does discovery. Inferred, not verified: that render minors rise with
// the partition number (the kernel allocates the xcp devices in order).
struct Partition {
    int index = 0;                    // within its GPU, by render minor
    int count = 1;                    // partitions of that GPU in the topology
    std::string platform_device;      // "amdgpu_xcp_<k>", "" when its nodes are the PCI device's
    std::string compute_mode;         // the PCI device's current_compute_partition ("CPX"), or ""
    std::string memory_mode;          // current_memory_partition ("NPS4"), or ""
    gpu_host::DeviceNode parent_card; // the PCI device's card node (the whole GPU), when matched
};

// One GPU (or GCD: an MI250X is two KFD nodes; or a compute partition) of the KFD topology.
struct Gpu {
    int index = 0; // PCI address order, a GPU's partitions together by partition (as amd-ctk)
    std::uint32_t node = 0;   // KFD topology node number (nodes/<node>)
    std::uint32_t gpu_id = 0; // nodes/<node>/gpu_id (KFD's hash, 0 on CPU nodes)
    std::string kfd_name;     // nodes/<node>/name, e.g. "ip discovery" or "aldebaran"
    std::optional<std::uint64_t> unique_id;
    std::string uuid;                     // "GPU-" + 16 hex digits of unique_id, as rocminfo prints
    std::uint32_t gfx_target_version = 0; // e.g. 90402
    std::string gfx_target;               // e.g. "gfx942"
    // Target features as ROCr derives them (amd_gpu_agent.cpp): sramecc from the capability bit
    // HSA_CAP_SRAM_EDCSUPPORTED (0x04000000, kfd_topology.h) on targets that have the feature
    // (gfx906/908/90a/94x/950; gfx908 is always on), nullopt elsewhere or without a capability
    // line. xnack is not in the topology: ROCr takes the process's mode (HSA_XNACK), so nullopt.
    std::optional<bool> xnack, sramecc;
    std::uint64_t capability = 0;               // the properties' capability word
    std::uint32_t vendor_id = 0, device_id = 0; // PCI IDs (AMD: 0x1002)
    std::uint32_t domain = 0, location_id = 0;  // PCI domain and bus<<8 | dev<<3 | fn
    std::string pci_bus_id;                     // "dddd:bb:dd.f"
    std::uint32_t simd_count = 0;
    std::uint32_t num_xcc = 1;          // compute dies (XCCs) of the node; 1 when not stated
    std::uint32_t drm_render_minor = 0; // N of /dev/dri/renderD<N>
    std::string marketing_name;         // from a small table by PCI device ID; "" when unknown
    gpu_host::DeviceNode render;        // /dev/dri/renderD<N>
    gpu_host::DeviceNode card;          // /dev/dri/card<M> when matched through sysfs
    bool card_matched = false;
    std::optional<Partition> partition; // set when this is one partition of a partitioned GPU
};

struct Host {
    std::string sys_root, dev_root;             // normalized, no trailing '/'
    bool usable = false;                        // /dev/kfd exists and the topology has a GPU
    std::string unusable_reason;                // why not, when !usable
    std::optional<std::uint64_t> generation_id; // topology/generation_id
    std::string driver_version;                 // sys/module/amdgpu/version (DKMS only), else ""
    gpu_host::DeviceNode kfd;                   // /dev/kfd (major is dynamic: read from stat)
    std::vector<Gpu> gpus;                      // in index order
    std::uint32_t cpu_nodes = 0;                // KFD nodes with simd_count 0
    std::vector<std::string> notes;             // what discovery could not tell, in words
};

struct DiscoverOptions {
    std::string sys_root = "/"; // holds sys/class/kfd, sys/module/amdgpu, sys/class/drm
    std::string dev_root = "/"; // holds dev/kfd and dev/dri
};

// Reads the host. A host without KFD topology or /dev/kfd is not an error: usable is false and
// unusable_reason says why. Damaged or hostile sysfs content throws Error(invalid) naming the file.
Host discover(const DiscoverOptions& options);

// ---- pieces, exposed for tests ----

// The "name value" lines of a KFD properties file (decimal 64-bit values). Throws Error(invalid)
// naming `file` on a malformed line, a non-decimal or overflowing value, or a repeated name.
std::map<std::string, std::uint64_t, std::less<>> parse_properties(std::string_view text,
                                                                   const std::string& file);

// gfx_target_version -> gfx name: major*10000 + minor*100 + stepping, stepping one hex digit:
// 90010 -> "gfx90a", 90402 -> "gfx942", 110000 -> "gfx1100". nullopt when it does not decode
// (0, minor > 9, stepping > 15).
std::optional<std::string> gfx_name(std::uint64_t gfx_target_version);

// PCI domain + KFD location_id (bus<<8 | dev<<3 | fn) -> "dddd:bb:dd.f" (lower-case hex).
std::string pci_bdf(std::uint32_t domain, std::uint32_t location_id);

// unique_id -> "GPU-" + 16 lower-case hex digits (rocminfo's Uuid line).
std::string uuid_of(std::uint64_t unique_id);

// The target has the sramecc feature (so its ISA name carries :sramecc+ or :sramecc-).
bool has_sramecc_feature(std::string_view gfx_target);

// Marketing name for an AMD PCI device ID, "" when not in the table.
std::string marketing_name(std::uint32_t device_id);

} // namespace gantry::gpu_vendors::amd
