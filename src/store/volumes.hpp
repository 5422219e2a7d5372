// Named volumes, docker's local driver: a directory per volume under the store,
// ROOT/volumes/NAME/_data, with ROOT/volumes/NAME/volume.json (its creation time and labels).
// Made whole under a temporary name and renamed into place, so a volume is either there with
// its record or not at all; removed by renaming it aside first. What `gantry volume` and the
// Engine API's /volumes endpoints share. A run mounts one by name (engine/volumes.hpp, which
// also says which are in use).
#pragma once

#include "store/store.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gantry::store {

struct Volume {
    std::string name;
    stdfs::path mountpoint; // ROOT/volumes/NAME/_data
    std::string created;    // RFC 3339
    std::map<std::string, std::string> labels;
};

// docker's rule for a local volume's name: [a-zA-Z0-9][a-zA-Z0-9_.-]+.
bool valid_volume_name(const std::string& name);

// NAME made (a random 64-hex name when empty), or the volume already named NAME as it is
// (docker's create is idempotent; LABELS then must match, else Error(conflict)). A bad name is
// Error(usage) quoting docker's rule.
Volume create_volume(const Store& store, std::string name,
                     const std::map<std::string, std::string>& labels);
std::optional<Volume> find_volume(const Store& store, const std::string& name);
// Every volume, by name.
std::vector<Volume> list_volumes(const Store& store);
// Removes NAME and its data; Error(not_found) naming it when there is none.
void remove_volume(const Store& store, const std::string& name);
// The bytes under a volume's data directory (du's apparent size).
std::uint64_t volume_size(const Volume& v);

} // namespace gantry::store
