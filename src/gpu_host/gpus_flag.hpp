// gpu_host/gpus_flag: docker's `--gpus` grammar, which every vendor reads the same way (`all`, a
// count, `device=LIST`, `count=N`, `capabilities=LIST`, `driver=`, a GPU-/MIG- UUID), and docker's
// device-list words (`all`, `none`, `void`, ""). What a device name or a capability means is the
// chosen vendor's (gpu_vendors/nvidia/request.hpp, gpu_vendors/amd/request.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_host {

struct GpusFlag {
    bool inject = false;              // GPUs at all (false: "void", "", or no device)
    bool all = false;                 // every GPU
    std::vector<std::string> devices; // the items named (indices, UUIDs, "i:j", PCI bus ids)
    // capabilities=LIST's words as given (each a known capability name, or "all" among them)
    std::optional<std::vector<std::string>> capabilities;
    // driver=NAME: the GPU vendor asked for (a registered vendor's name, checked by the GPU
    // layer: gpu_vendors/all/backends.hpp's for_run), as docker's and compose's `driver: nvidia`
    std::optional<std::string> driver;
};

// Throws Error(usage) for a malformed value, naming the flag.
GpusFlag parse_gpus_flag(const std::string& value);

// A docker device list (NVIDIA_VISIBLE_DEVICES, --gpus device=): "" and "void" inject nothing,
// "all" every GPU, "none" the driver without devices, else the items.
void set_device_list(GpusFlag& f, const std::string& value);

// The items of a comma-separated list, blanks and quotes trimmed, empty ones dropped.
std::vector<std::string> split_list(std::string_view s);

// Blanks and the quotes of a value written as "compute,utility" or 'all'.
inline constexpr std::string_view kBlanksAndQuotes = " \t\"'";

// The driver capability names of the grammar (NVIDIA_DRIVER_CAPABILITIES' words), and the
// error for a word that is none of them.
bool is_capability_name(const std::string& word);
[[noreturn]] void throw_unknown_capability(const std::string& what, const std::string& word);

} // namespace gantry::gpu_host
