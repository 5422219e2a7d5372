// What brings a container back after the machine boots. Records live in the runtime directory,
// which a boot clears; a container whose restart policy docker would honour when its daemon
// starts again (`always`; `unless-stopped` unless its user stopped it) keeps a copy of its
// record in its own directory in the store (boot.json: durable, replaced atomically), and
// `gantry system boot` (engine/boot.hpp, run by the package's gantry-restart units) records and
// starts it again from there. `on-failure` and `no` keep none.
#pragma once

#include "records/state.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace gantry::records {

// The file in a container's directory (ContainerState::container_dir)
inline constexpr const char* kBootFile = "boot.json";

// Whether S comes back after a boot: its policy always, or unless-stopped and not stopped by
// its user (docker's daemon restores them so when it starts).
bool wanted_after_boot(const ContainerState& s);

// Keeps S for a boot when wanted_after_boot(S), else forgets it (its boot.json removed): what a
// start, and a stop by the user, call. A write that fails is an Error(io) naming the file.
void keep_for_boot(const ContainerState& s);

// The records kept for a boot in the store at STORE_ROOT (its containers/*/boot.json), each as
// it was kept; a file that cannot be read or parsed is skipped, said on stderr.
std::vector<ContainerState> kept_for_boot(const std::filesystem::path& store_root);

} // namespace gantry::records
