// engine/boot: `gantry system boot`, what the package's gantry-restart units run once the
// machine has booted (podman's podman-restart pattern): the containers a store kept for a boot
// (records/boot.hpp: restart policy always, or unless-stopped and not stopped by their user)
// recorded again in the runtime directory, which the boot cleared, under their names and IDs,
// and started as `gantry start` starts them (the one start path: their networks, volumes and
// writable layers are the store's, as they were).
#pragma once

#include "engine/engine.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace gantry::engine {

struct BootStarts {
    std::vector<std::string> started; // names, in the order of their creation
    std::vector<std::string> present; // recorded already (a second run, or no boot since)
    std::vector<std::string> failed;  // "NAME: why"
};

// Records and starts again every container the store at STORE_ROOT kept for a boot; one that
// fails is said in FAILED and the others go on.
BootStarts start_after_boot(const std::filesystem::path& store_root, Caller caller);

} // namespace gantry::engine
