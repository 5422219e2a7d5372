// `gantry system reset` (podman's name and behaviour): one store removed whole (images, layer
// trees, blobs, the build cache, the squashfs cache, lazy pulls' copies, containers' writable
// layers, trash/), with the containers recorded with it: those still running are stopped first
// (SIGTERM, then SIGKILL: `gantry rm -f`), as podman's reset stops and removes every container.
// When no container of any store is left in the runtime directory, that directory (the GPU,
// doctor and CPU caches) goes too.
//
// What reset cannot stop refuses it, before anything is removed: a container started in the
// foreground without --name or -d (not recorded, so not stoppable from here; its image's use hold
// says it runs), and a command writing to the store (pull, load, build: they hold the gc lock
// shared). A directory that does not look like a gantry store is refused too (`--root ~` typed by
// mistake must not remove a home directory).
//
// Files a rootless container wrote as one of the user's subordinate ids (a writable layer on
// disk, `run --writable-layer disk` with /etc/subuid ranges) cannot be removed by the user
// alone; they are removed by a child process in a user namespace with the user's maps, as
// `podman unshare rm -rf` would.
#pragma once

#include "records/state.hpp"

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace gantry::engine {

struct ResetPlan {
    std::filesystem::path root;                      // the store
    bool exists = false;                             // false: nothing to remove
    std::size_t images = 0;                          // its references (tags and digests)
    std::vector<records::ContainerState> containers; // recorded with this store
    std::size_t running = 0;                         // of those, running now
};

// What reset() would remove; reads only (no store is made where there is none).
// Error(invalid) when ROOT exists but is not a gantry store.
ResetPlan plan_reset(const std::filesystem::path& root, const records::StateDir& states);

// The confirmation prompt's text: what goes, in podman's words ("WARNING! This will remove:").
std::string describe(const ResetPlan& plan);

struct ResetResult {
    std::size_t containers = 0;       // container records removed
    bool runtime_dir_removed = false; // no container was left in it: its caches went too
};

// Removes what PLAN names: Error(conflict) (nothing removed) while a foreground container runs
// with one of its images or a command writes to it; Error(io) naming the path that could not
// be removed. A store already gone is not an error.
ResetResult reset(const ResetPlan& plan, records::StateDir& states);

// Removes the tree at PATH, including what a user's subordinate ids own (a child process in a
// user namespace with the caller's maps does, where the caller alone cannot): for a caller
// other than real root whose plain removal failed with EACCES or EPERM.
void remove_owned_tree(const std::filesystem::path& path);

} // namespace gantry::engine
