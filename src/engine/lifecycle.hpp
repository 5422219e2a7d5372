// docker's container lifecycle beyond run: create, start, restart and rename, for `gantry create`,
// `start`, `restart`, `rename` (cli/cmd_lifecycle.cpp only registers flags and calls these) and
// the Docker Engine API service.
//
// create prepares a container as run would (every check, the image found or pulled, the spec
// built), records it with status "created" and keeps its RunRequest, made persistable
// (engine/request_json.hpp), as CONTAINER_DIR/request.json; nothing starts. Its writable layer
// is on disk (run's memory layer would not outlive a start). `run -d` keeps its request the same
// way. start reads it back and runs the container as `run -d` would, under its own id, name and
// record, on its same writable layer (a `run -d` container whose layer was in memory starts from
// the image again); with attach, in the foreground instead, returning its exit status.
#pragma once

#include "engine/engine.hpp"
#include "records/state.hpp"

#include <optional>
#include <string>

namespace gantry::engine {

// Records a new container of REQUEST without starting it (journalled: create); returns its id.
// --cidfile is written now.
std::string create(store::Store& store, RunRequest request, Caller caller);

struct StartOptions {
    bool attach = false;      // -a: in the foreground, stdout and stderr attached
    bool interactive = false; // -i: stdin attached too (implies attach, as docker's)
};
// Starts the created or exited container NAME_OR_ID again (journalled: start). Detached: status
// 0 once its workload runs; attached: its exit status. A running container is left as it is
// (docker's), but for attach: Error(conflict). Error(conflict) when its request was not kept.
Outcome start(const std::string& name_or_id, Caller caller, const StartOptions& options = {});

// The start a restart policy asks for (engine/restart_policy.hpp), in the process the monitor
// that waited for it began (`gantry __restart ID`): once that monitor has ended, the container
// ID is started as `gantry start` would, unless it was stopped, killed, removed or started
// meanwhile. A start that fails leaves it exited (said on standard error).
void restart_by_policy(const std::string& id, Caller caller);

// docker's restart: stopped as `gantry stop` does (TIMEOUT unset: its --stop-timeout, else 10 s),
// then started detached (journalled: restart, after stop's and start's events).
void restart(const std::string& name_or_id, Caller caller,
             std::optional<double> timeout = std::nullopt);

// docker's rename (journalled: rename, with oldName): the record as renamed.
records::ContainerState rename(const std::string& name_or_id, const std::string& new_name);

} // namespace gantry::engine
