// GPU injection as edits of the runtime spec, native and without vendor hooks: the selected
// device nodes (bind-mounted: rootless cannot mknod), the driver files of the requested
// capabilities bind-mounted read-only (libs ro,nosuid,nodev; IPC sockets also noexec), SONAME
// and .so links created in-root, the container's linker cache rebuilt after entering its root,
// /proc/driver/nvidia/params overlaid with ModifyDeviceFiles: 0, and the image's CUDA
// forward-compat libraries enabled by an ld.so.conf.d drop-in only when they can work (never
// mounted: CVE-2024-0132 / CVE-2025-23359).
// Namespace gantry::gpu_vendors::nvidia, as everything in NVIDIA's folder.
#pragma once

#include "gpu_vendors/nvidia/host.hpp"
#include "gpu_vendors/nvidia/request.hpp"
#include "oci/runtime_spec.hpp"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

struct ImageGpuLayout {
    std::string lib_dir = "/usr/lib/x86_64-linux-gnu"; // where driver libraries go
    std::string lib32_dir = "/usr/lib/i386-linux-gnu";
    std::string compat_libcuda; // e.g. /usr/local/cuda/compat/libcuda.so.580.95.05 ("" if none)
    std::string compat_note;    // its .note.cuda.fwd_compatibility JSON ("" if none)
    // SONAMEs the image's own /etc/ld.so.cache lists (nullopt: no cache). The loader consults
    // the cache before the default directories, so ldconfig is needed only when the cache
    // names an injected SONAME (an image's stub libcuda) or a drop-in is written.
    std::optional<std::set<std::string>> cached_sonames;
};

// Adds the injection to spec (on WSL2 hosts, host.wsl, nvidia-ctk's wsl mode: /dev/dxg, the
// driver store's files at their paths, the linker cache; else inject_native) (mounts, devices, env,
// setup). state_dir receives generated host files (the params copy). Throws Error(run_failed)
// naming a missing device node and the fix.
void inject_gpus(oci::RuntimeSpec& spec, const gpu_vendors::nvidia::Host& host,
                 const gpu_vendors::nvidia::Selection& sel,
                 const gpu_vendors::nvidia::Capabilities& caps, const ImageGpuLayout& layout,
                 const std::string& state_dir);

// The injection on a host with NVIDIA's Linux kernel driver (what inject_gpus does off WSL2).
void inject_native(oci::RuntimeSpec& spec, const gpu_vendors::nvidia::Host& host,
                   const gpu_vendors::nvidia::Selection& sel,
                   const gpu_vendors::nvidia::Capabilities& caps, const ImageGpuLayout& layout,
                   const std::string& state_dir);

// Whether the image's forward-compat libraries should be used on this host (reference
// nvidia-driver.md §7.7, NCT's enable-cuda-compat): with the ELF note, when the host driver's
// branch is listed and the compat CUDA version is newer than the host's; without it, when the
// compat driver's major is newer than the host driver's.
bool compat_applies(const std::string& compat_driver_version,
                    const std::string& host_driver_version, const std::string& note_json = {},
                    int host_cuda_version = 0);

} // namespace gantry::gpu_vendors::nvidia
