// gpu_vendors/nvidia/tegra_csv: the mount lists of a Jetson (Tegra) driver, read as hostile
// input. NVIDIA's L4T packages describe what a container needs of the board in CSV files under
// /etc/nvidia-container-runtime/host-files-for-container.d/ (devices.csv, drivers.csv, l4t.csv
// and others), one "KIND, PATH" a line (nvidia-container-toolkit's
// internal/platform-support/tegra/csv: split at the first comma, both sides trimmed):
//   dev, /dev/nvhost-ctrl-gpu     a device node (a pattern in its name: /dev/dri/card*)
//   lib, /usr/lib/aarch64-linux-gnu/nvidia/libcuda.so.1.1    a file, bound read-only
//   sym, /usr/lib/aarch64-linux-gnu/libcuda.so               a symbolic link, recreated
//   dir, /usr/lib/aarch64-linux-gnu/tegra                    a directory, bound read-only
// The files belong to whoever wrote the driver root --driver-root names (a copied tree, a mounted
// image), so every line is judged before anything is mounted: an unknown kind, a relative path,
// a "." or ".." component, a control character, a pattern outside the last component or in
// anything but a device, a device outside /dev, anything under /proc or /sys, the root or a
// whole top-level directory (dir, /usr) is skipped with the line number
// and the reason (nvidia-ctk skips malformed lines too, silently). Blank lines and "#" comments
// are nothing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

enum class CsvKind { dev, dir, lib, sym };
const char* to_string(CsvKind k); // "dev", "dir", "lib", "sym"

struct CsvEntry {
    CsvKind kind = CsvKind::lib;
    std::string path; // absolute, normalised ("//" and a trailing "/" collapsed)
    int line = 0;     // 1-based
};

struct CsvSkip {
    int line = 0;
    std::string text; // the line, at most 200 bytes of it, control characters as '?'
    std::string reason;
};

struct CsvList {
    std::vector<CsvEntry> entries;
    std::vector<CsvSkip> skipped;
};

inline constexpr std::size_t kCsvMaxBytes = 1u << 20; // a file larger is refused whole
inline constexpr std::size_t kCsvMaxPath = 4095;      // PATH_MAX less its NUL

// Parses one file's text. Never throws.
CsvList parse_csv(std::string_view text);

// Whether a path's last component is a pattern ('*', '?', '[').
bool csv_is_pattern(std::string_view path);

} // namespace gantry::gpu_vendors::nvidia
