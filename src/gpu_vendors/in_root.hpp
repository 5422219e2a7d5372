// Paths inside a driver root resolved as if it were "/": what the vendors share when they read a
// host's files (NVIDIA's driver root, AMD's ROCm under WSL's driver root).
#pragma once

#include "gpu_host/device_node.hpp"

#include <map>
#include <optional>
#include <string>
#include <sys/types.h>

namespace gantry::gpu_vendors {

// Resolves PATH inside ROOT as if ROOT were "/": absolute symlink targets and ".." stay in it.
// Returns the resolved path relative to ROOT ("/usr/lib/x.so.1"), or nullopt if a component is
// missing, a loop is hit, or a non-final component is not a directory.
std::optional<std::string> resolve_in_root(const std::string& root, const std::string& path);

// resolve_in_root with the directory part of each path memoised: an ld.so.cache names a few
// directories thousands of times.
class InRootResolver {
  public:
    explicit InRootResolver(std::string root) : root_(std::move(root)) {}
    // The resolved path; the lstat mode of what it names goes to *mode when asked.
    std::optional<std::string> resolve(const std::string& in_root_path, mode_t* mode = nullptr);
    // resolve() for a directory, memoised; nullopt unless it resolves to a directory.
    std::optional<std::string> directory(const std::string& in_root_dir);
    // The resolved path if it is a regular file (after symlinks), else nullopt.
    std::optional<std::string> regular_file(const std::string& in_root_path);
    std::string host(const std::string& in_root) const {
        return gpu_host::join_root(root_, in_root);
    }
    const std::string& root() const { return root_; }

  private:
    std::string root_;
    std::map<std::string, std::optional<std::string>> dirs_;
};

} // namespace gantry::gpu_vendors
