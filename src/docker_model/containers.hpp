// docker's shapes of gantry's containers: a `ps --format` row (docker's formatter fields) and
// `inspect --type container` (docker's ContainerJSON, the fields tools read).
#pragma once

#include "gotemplate/docker_format.hpp"
#include "records/state.hpp"

#include <nlohmann/json.hpp>

namespace gantry::docker_model {

using json = nlohmann::json;

// The row `ps --format` executes for S (RUNNING: its process is alive): .ID .Image .Command
// .CreatedAt .RunningFor .Ports .State .Status .Size .Names .Labels .Mounts .Networks
// .LocalVolumes, and .Label "KEY". NO_TRUNC: the command whole (else 20 characters, quoted).
json ps_row(const records::ContainerState& s, bool running, bool no_trunc);
// ps's --format: the rows' headers, `.Label`, the default table.
const gotemplate::Listing& ps_listing();

// docker's `inspect` of a container: Id, Created, Path, Args, State, Image, Name, Config
// (Hostname, User, Env, Cmd, Entrypoint, Image, WorkingDir, Labels, Tty), Mounts (the binds
// and tmpfs the run asked for), HostConfig, NetworkSettings (host or none).
json inspect_container(const records::ContainerState& s, bool running);
// Its parts a list row shares (GET /containers/json: docker's types.Container), made without
// the whole inspect: Mounts (docker's MountPoints), and the network mode ("host" or "none").
json inspect_mounts(const records::ContainerState& s);
std::string network_mode(const records::ContainerState& s);
// What `inspect --format` executes over: any value with no methods, named WHAT.
const gotemplate::Listing& inspect_listing(const std::string& what);

// docker's state word for S: running, exited or created.
std::string state_word(const records::ContainerState& s, bool running);

} // namespace gantry::docker_model
