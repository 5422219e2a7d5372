// Intel GPU discovery: what the i915 and xe kernel drivers show under a sys root and a dev root, as
// Intel's own container tooling reads it (docs/reference/intel-gpu.md §1-§2): DRM cards
// sys/class/drm/card<N> whose device/vendor is 0x8086 and whose device/driver link ends in i915
// or xe, their PCI address (the card link's target, ../../devices/.../<bdf>/drm/card<N>), PCI
// device id (device/device), render node (the renderD<M> beside the card in device/drm/), tiles
// (i915: card<N>/gt/gt*; xe: card<N>/device/tile*), and the device nodes dev/dri/card<N>,
// dev/dri/renderD<M> and dev/dri/by-path/pci-<bdf>-{card,render}. GPUs are numbered in PCI
// address order; an SR-IOV physical function with virtual functions enabled is none of them. Every
// sysfs file is untrusted: reads are bounded and resolved inside the root.
#pragma once

#include "gpu_host/device_node.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_vendors::intel {

struct Gpu {
    int index = 0;         // PCI address order
    std::string card_name; // "card1"
    std::string driver;    // "i915" or "xe"
    std::uint32_t device_id = 0;
    std::string pci_bus_id; // "0000:3a:00.0"
    std::string model;      // "Data Center GPU Max 1550", "" when not in the table
    std::string aot_target; // the AOT device name ocloc takes ("pvc", "acm-g10"), "" unknown
    int tiles = 1;          // tiles (stacks) sysfs shows; 1 when it shows none
    gpu_host::DeviceNode card, render;
    bool render_matched = false;
    std::vector<std::string> by_path; // "/dev/dri/by-path/pci-<bdf>-card", ... (present ones)
};

// An SR-IOV physical function whose virtual functions are enabled: not a GPU to hand out (its
// VFs are), as Intel's device plugin decides (device/sriov_numvfs present and not 0).
struct SriovPhysicalFunction {
    std::string card_name;     // "card1"
    std::string pci_bus_id;    // "0000:4d:00.0", "" when its link does not say
    int virtual_functions = 0; // sriov_numvfs
};

struct Host {
    std::string sys_root, dev_root;                              // normalised
    std::vector<Gpu> gpus;                                       // in index order
    std::vector<SriovPhysicalFunction> sriov_physical_functions; // left out of gpus
    std::vector<std::string> drivers; // the drivers seen ("i915", "xe"), once each
    std::vector<std::string> notes;   // what discovery could not tell, in words
};

struct DiscoverOptions {
    std::string sys_root = "/";
    std::string dev_root = "/";
};

// Reads the host. No Intel GPU is not an error (gpus empty). Damaged or hostile sysfs content
// throws Error(invalid) naming the file.
Host discover(const DiscoverOptions& options);

// Whether SYS_ROOT shows a DRM card bound to i915 or xe with Intel's vendor id: a few lookups.
bool has_intel_card(const std::string& sys_root);

// ---- pieces, exposed for tests ----

// The PCI address in a sys/class/drm/card<N> link target ("../../devices/pci0000:00/
// 0000:00:02.0/drm/card0" -> "0000:00:02.0"), as Intel's device plugin takes it; "" when the
// target does not end in <bdf>/drm/<card>.
std::string pci_address_of_link(std::string_view target, std::string_view card);

// The model name and the AOT device name (ocloc's -device) of an Intel PCI device id; empty
// strings when the id is not in the table.
struct DeviceKind {
    std::string_view model, aot_target;
};
DeviceKind device_kind(std::uint32_t device_id);

} // namespace gantry::gpu_vendors::intel
