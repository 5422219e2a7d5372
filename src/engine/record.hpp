// What the engine records of a prepared container (records::ContainerState), shared by run's
// launch (engine/launch.cpp) and create (engine/lifecycle.cpp).
#pragma once

#include "engine/engine.hpp"
#include "records/state.hpp"

namespace gantry::engine {

// P's record as a new container's: its name (the id when unnamed), image, store, directory,
// command, spec, labels, stop settings and mounts; status "created", created now.
records::ContainerState container_record(const Prepared& p);

} // namespace gantry::engine
