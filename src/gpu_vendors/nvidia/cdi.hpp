// NVIDIA's one description of what a container needs: a CDI spec for the host's NVIDIA GPUs, from
// a discovered gpu_vendors::nvidia::Host, in the shape nvidia-ctk writes (reference
// nvidia-driver.md §1.3, §2.5, §2.6) but with hooks that call gantry itself by absolute path, each
// with an explicit, minimal environment.
//
// Devices: one per GPU and per MIG instance, for each naming strategy asked for (index: "0",
// "0:1"; uuid: "GPU-…", "MIG-…"), and "all". Per-device edits: the GPU's node (/dev/nvidia<minor>)
// (and, with proc_dirs, its /proc/driver/nvidia/gpus/<bus> directory bound read-only); MIG
// devices add their GI and CI capability nodes. Spec-level edits: the control nodes that exist
// (nvidiactl, nvidia-uvm, nvidia-uvm-tools, nvidia-modeset; /dev/dxg on WSL), every driver library
// bound read-only at its host path minus the driver root, binaries, firmware and ICD/vendor config
// files at their container paths, IPC sockets (noexec), NVIDIA_VISIBLE_DEVICES=void and
// NVIDIA_CTK_LIBCUDA_DIR, and createContainer hooks `gantry hook create-symlinks`, `gantry hook
// update-ldcache` and `gantry hook disable-device-node-modification` (with --params when the host's
// proc tree is not /proc, as on simulated hosts). Node numbers are left out (consumers read them
// live; the uvm major changes across reloads), and hostPath only appears when it differs from path,
// so cdiVersion (the lowest the content needs) stays as low as possible.
//
// `gantry cdi generate` writes it whole; run, bundle and `gantry oci` apply the devices a request
// selects (Backend::plan), with the request's driver capabilities (caps: only the nodes, libraries,
// binaries, configs and sockets they select, as NVIDIA_DRIVER_CAPABILITIES means) and, for a run,
// the image's own library directories (layout: the libraries there, the linker cache rebuilt
// only when it must be, the image's CUDA forward-compat directory first when it applies).
// Namespace gantry::gpu_vendors::nvidia, as everything in NVIDIA's folder.
#pragma once

#include "cdi/spec_model.hpp"
#include "gpu_vendors/nvidia/host.hpp"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

// Debian's multiarch library directory of the machine gantry was built for, as an image of this
// host's platform has it: x86_64's, or aarch64's (NVIDIA's sbsa drivers, Jetson's)
#if defined(__aarch64__)
inline constexpr const char* kMultiarch = "aarch64-linux-gnu";
#else
inline constexpr const char* kMultiarch = "x86_64-linux-gnu";
#endif

// Where an image keeps its libraries, read from its files (gpu_facts.hpp): where a run puts the
// driver's.
struct ImageGpuLayout {
    std::string lib_dir = std::string("/usr/lib/") + kMultiarch; // where driver libraries go
    std::string lib32_dir = "/usr/lib/i386-linux-gnu";
    std::string compat_libcuda; // e.g. /usr/local/cuda/compat/libcuda.so.580.95.05 ("" if none)
    std::string compat_note;    // its .note.cuda.fwd_compatibility JSON ("" if none)
    // SONAMEs the image's own /etc/ld.so.cache lists (nullopt: no cache). The loader consults
    // the cache before the default directories, so ldconfig is needed only when the cache
    // names an injected SONAME (an image's stub libcuda) or a drop-in is written.
    std::optional<std::set<std::string>> cached_sonames;
};

enum class Naming { index, uuid };
std::optional<Naming> naming_from_string(const std::string& s); // "index", "uuid"

struct GenerateOptions {
    std::string kind = "nvidia.com/gpu";
    std::vector<Naming> naming = {Naming::index, Naming::uuid}; // nvidia-ctk's default: both
    std::string gantry_path; // absolute path of the gantry binary the hooks call (required)
    std::string driver_root; // empty: host.driver_root (stripped from library container paths)
    std::string dev_root;    // empty: host.dev_root (for nodes whose host_path is empty)
    // Bind each GPU's /proc/driver/nvidia/gpus/<bus> read-only in its devices. Off by default:
    // runc refuses mount targets under /proc ("cannot be mounted because it is inside /proc"),
    // and nvidia-ctk does not emit them either.
    bool proc_dirs = false;
    // A container's driver capabilities: only what they select; nullopt: everything.
    std::optional<Capabilities> caps;
    // A run's image: the libraries in its directories; nullopt: at their host paths minus the
    // driver root. Not on WSL2, whose driver store keeps its own paths.
    std::optional<ImageGpuLayout> layout;
};

// The environment every generated hook runs with (never empty, never inherited).
const std::vector<std::string>& hook_env();

// Error(not_found) when the host has no GPU to describe (the message carries discovery's notes);
// Error(usage) when gantry_path is not absolute or the kind is invalid. Things left out (a
// missing /dev/nvidia<N>, a GPU without UUID under uuid naming) are appended to `warnings`.
cdi::Spec generate(const gpu_vendors::nvidia::Host& host, const GenerateOptions& opt,
                   std::vector<std::string>* warnings = nullptr);

} // namespace gantry::gpu_vendors::nvidia
