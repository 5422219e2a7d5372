// docker's shape of a named volume (store/volumes.hpp): `gantry volume inspect` and the Engine
// API's /volumes answer it; and docker's volume filters (label, name, driver, dangling).
#pragma once

#include "store/volumes.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::docker_model {

// {"Name", "Driver": "local", "Mountpoint", "CreatedAt", "Labels", "Scope": "local", "Options"}
nlohmann::json inspect_volume(const store::Volume& v);

// Whether V passes WORDS (KEY=VALUE: label=K, label=K=V, name=SUBSTRING, driver=local,
// dangling=true|false: IN_USE false|true, a container mounts it); repeated keys OR, different
// keys AND. Another key is Error(usage) naming it.
bool volume_matches(const store::Volume& v, const std::vector<std::string>& words,
                    bool in_use = false);

} // namespace gantry::docker_model
