// gantry's own OCI hooks (`gantry hook ...`), usable as createContainer hooks by podman, crun and
// runc through the CDI specs `gantry cdi generate` writes. Each reads the container state from
// stdin, finds the root from the bundle's config.json, and works only through in-root file
// descriptors; update-ldcache runs the HOST's ldconfig (never the image's) after pivot_root into
// the container's root in a private mount namespace, with no_new_privs.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace gantry::runtime {

// The container root named by an OCI state document (bundle + config.json root.path).
std::string root_from_state(const std::string& state_json);

void hook_create_symlinks(const std::string& root,
                          const std::vector<std::pair<std::string, std::string>>& links);
void hook_update_ldcache(const std::string& root, const std::vector<std::string>& folders,
                         const std::string& host_ldconfig);
// Overlays the container's /proc/driver/nvidia/params with ModifyDeviceFiles: 0 (if present).
void hook_disable_device_node_modification(const std::string& root, const std::string& host_params);

} // namespace gantry::runtime
