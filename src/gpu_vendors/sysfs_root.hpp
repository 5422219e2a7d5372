// gpu_vendors/sysfs_root: a host root (the sys root, the dev root) opened once, every path below
// it resolved inside it (symlinks and ".." never leave it), with the bounded reads that sysfs
// discovery needs: an attribute (at most 64 KiB: sysfs attributes are at most a page), a
// directory's names (at most 4096), a symlink's target, a device node's stat. What AMD's KFD
// topology walk and Intel's DRM walk share; each vendor passes the hint its errors carry.
#pragma once

#include "gpu_host/device_node.hpp"
#include "util/fd.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_vendors {

// A --sys-root / --dev-root as given, made absolute and normal ("" is "/").
std::string normalize_root(const std::string& root);

class SysRoot {
  public:
    static constexpr std::size_t max_attribute = 64 * 1024;
    static constexpr std::size_t max_entries = 4096;

    // Opens PATH (Error when it cannot); HINT goes with every error about what is below it.
    SysRoot(std::string path, const char* hint);
    const std::string& path() const { return path_; }
    // IN_ROOT ("sys/class/drm") as a path of the host.
    std::string host(std::string_view in_root) const;

    // The file's content; nullopt when it does not exist. Throws on other errors, when it is not
    // a regular file, or when it is larger than max_attribute.
    std::optional<std::string> read(std::string_view in_root) const;
    // The names in a directory (without . and ..), sorted; nullopt when it does not exist.
    // Throws when it holds more than max_entries.
    std::optional<std::vector<std::string>> list(std::string_view in_root) const;
    // The target of the symlink DIR/NAME (DIR resolved in the root); nullopt when it is not one.
    std::optional<std::string> link_target(const std::string& dir, const std::string& name) const;
    bool exists(const std::string& in_root) const;
    // The stat of a device node (following no link out of the root); present=false when missing.
    gpu_host::DeviceNode node(const std::string& container_path) const;

  private:
    std::string path_;
    const char* hint_;
    Fd fd_;
};

} // namespace gantry::gpu_vendors
