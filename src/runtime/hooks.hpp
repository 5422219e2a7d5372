// gantry's own OCI hooks (`gantry hook ...`), usable as createContainer hooks by podman, crun and
// runc through the CDI specs `gantry cdi generate` writes. Each reads the container state from
// stdin, finds the root from the bundle's config.json, and works only through in-root file
// descriptors; update-ldcache runs the HOST's ldconfig binary (never the image's; found by
// util/host_ldconfig) after pivot_root into the container's root in a private mount namespace,
// with no_new_privs.
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
// Binds a read-only copy of `content` over `path` in the container's root (resolved in it,
// the last component not followed) when that path exists; nothing when it does not.
void hook_overlay_file(const std::string& root, const std::string& path,
                       const std::string& content);

} // namespace gantry::runtime
