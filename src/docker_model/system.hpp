// docker's `version` and `info` shapes for gantry, for their --format ({{.Server.Version}},
// {{json .}}). gantry has no daemon: "Server" is the engine in this same program.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace gantry::docker_model {

using json = nlohmann::json;

// docker's version: Client and Server, each with Version (gantry's), Os, Arch, and the Server's
// KernelVersion and Components (one, "Engine"). ApiVersion is empty: gantry serves no API.
json version_json(const std::string& version);

// What info counts, from the store and the runtime directory.
struct EngineFacts {
    std::string version, store_root;
    std::size_t containers = 0, running = 0, stopped = 0, images = 0;
};
// docker's info: ID, Name, ServerVersion, Containers, ContainersRunning, ContainersPaused,
// ContainersStopped, Images, Driver, DockerRootDir, KernelVersion, OperatingSystem, OSType,
// Architecture, NCPU, MemTotal, CgroupVersion, CgroupDriver, SecurityOptions, Runtimes,
// DefaultRuntime, Labels, Warnings, ExperimentalBuild, HttpProxy, HttpsProxy, NoProxy.
json info_json(const EngineFacts& facts);

} // namespace gantry::docker_model
