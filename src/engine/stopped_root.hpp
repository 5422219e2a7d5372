// A stopped container's root for `gantry cp` (engine/copy.hpp): its image's layers under its
// writable layer kept on disk (STORE/containers/ID/upper), mounted as the run mounted them
// (overlayfs, userxattr) in a child process of its own mount namespace and, rootless, of a user
// namespace with the container's id maps, so the files keep the owners the container saw. The
// work happens in that child; its error is relayed. The container's name is held meanwhile
// (StateDir::take): a `gantry start` waits for no copy, it is refused (conflict).
#pragma once

#include "records/state.hpp"

#include <functional>

namespace gantry::engine {

// Calls WORK with a descriptor of S's root, in the child. Error(conflict) when S kept no layer
// on disk (its writable layer was in memory: gone with its run).
void with_stopped_root(const records::ContainerState& s, const std::function<void(int)>& work);

} // namespace gantry::engine
