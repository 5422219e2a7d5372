// gpu_vendors/nvidia/tegra: Jetson (Tegra) boards, whose integrated GPU nvidia-ctk serves in its
// csv mode. A host is a Tegra host by nvidia-ctk's rule (go-nvlib's ResolvePlatform): not WSL,
// and either the board's files are there without NVML (/etc/nv_tegra_release under the driver
// root, or "tegra..." in sys/devices/soc0/family under the sys root), or NVML names an
// integrated GPU ("Orin (nvgpu)", "NVIDIA Thor"). What a container gets of it is what the L4T
// CSV mount lists name (tegra_csv.hpp), resolved inside the driver root (files) and the dev root
// (nodes), plus /etc/nv_tegra_release; the GPU's compute capability comes from the SoC
// (tegra234 Orin 8.7, tegra264 Thor 11.0, reference cuda.md) when NVML cannot say.
#pragma once

#include "findings/finding.hpp"
#include "gpu_vendors/nvidia/host.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

inline constexpr const char* kTegraCsvDir =
    "/etc/nvidia-container-runtime/host-files-for-container.d";

// Why the host has a Tegra board's files ("" when it has none).
std::string tegra_files_reason(const std::string& driver_root, const std::string& sys_root);

// go-nvlib's IsIntegratedGPUName: "(nvgpu)" or "NVIDIA Thor" in an NVML device name.
bool is_integrated_gpu_name(const std::string& name);

// The Tegra SoC named in a device tree's compatible list (NUL-separated "vendor,name" strings):
// "tegra234" from "nvidia,p3737-0000\0nvidia,tegra234\0"; "" when none is.
std::string tegra_soc(const std::string& compatible);

// The integrated GPU's compute capability of a SoC: tegra210 5.3 (Nano, TX1), tegra186 6.2
// (TX2), tegra194 7.2 (Xavier), tegra234 8.7 (Orin), tegra264 11.0 (Thor); nullopt otherwise.
std::optional<std::pair<int, int>> tegra_compute_capability(const std::string& soc);

// Fills host.board (the release, the SoC, the CSV files' entries resolved) and host.libraries
// (the lib and sym entries that are ELF libraries); when NVML gave no GPU, the board's one
// integrated GPU (index 0, its compute capability from the SoC). Never throws; notes say what
// was skipped.
void discover_tegra(Host& host, const std::string& sys_root);

// gantry doctor's host findings for a Jetson.
std::vector<findings::Finding> check_tegra_host(const Host& host);

} // namespace gantry::gpu_vendors::nvidia
