// kernel_cache/shared: keys published to the shared image stores (the same directories as
// --image-store, $GANTRY_IMAGE_STORES and the config file's image_stores: sqsh/shared.hpp), so a
// node's first start of a key starts from another node's work. A store holds
//
//   DIR/kernel-caches/KEY/facts.json   what the key is made of (key.hpp)
//   DIR/kernel-caches/KEY/tree/        the generation that was current when it was pushed
//
// written under a temporary name, synced, and renamed into place (a push of a key already there
// replaces it the same way: readers see the old or the new, whole). Nodes only read it: a key a
// node does not have starts as the first store's copy (hard links where the filesystem allows,
// else copies), found by the key and checked against its facts.json.
#pragma once

#include "kernel_cache/key.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gantry::kernel_cache {

// The tree to start FACTS' key from: STORES' first DIR/kernel-caches/KEY/tree whose facts.json
// makes the same key; nullopt when none has it.
std::optional<std::filesystem::path> find_shared(const std::vector<std::string>& stores,
                                                 const KeyFacts& facts);

// `gantry kernel-cache push KEY --image-store DIR`: the key's current generation under ROOT
// published to the shared store DIR; DIR/kernel-caches/KEY. Error(not_found) for a key ROOT lacks
// or a DIR that does not exist.
std::filesystem::path push_shared(const std::filesystem::path& root, const std::string& key,
                                  const std::filesystem::path& dir);

} // namespace gantry::kernel_cache
