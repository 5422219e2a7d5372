// The cgroup a `gantry oci create` makes for its container (ocirt's side of
// runtime/container_cgroup.hpp): linux.resources, linux.cgroupsPath and the device rules read
// from the bundle's config.json. update, pause, resume, stats and events are in ocirt.hpp.
#pragma once

#include "oci/runtime_spec.hpp"
#include "ocirt/ocirt.hpp"
#include "runtime/container_cgroup.hpp"

#include <nlohmann/json.hpp>
#include <string>

namespace gantry::ocirt {

// Makes container ID's cgroup with CONFIG's limits, as runc 1.1's create does (rootless: see
// ContainerCgroup). Throws Error naming the field for a limit that cannot be applied;
// --systemd-cgroup is refused (gantry does not ask systemd for cgroups).
runtime::ContainerCgroup make_cgroup(const Global& g, const std::string& id,
                                     const nlohmann::json& config, const oci::RuntimeSpec& spec);

} // namespace gantry::ocirt
