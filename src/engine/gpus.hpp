// prepare's GPU step: the run's request handed to the GPU layer's one step for every door
// (gpu_vendors::add_gpus), which picks the vendor, discovers the host (cached per boot), applies
// the doctor's verdict on the image as policy before any namespace exists, and applies the
// vendor's CDI description of the selected GPUs to the runtime spec (gantry's own hooks done by
// the launcher in-process). A run that asks for no GPU reads nothing of the host.
#pragma once

#include "engine/engine.hpp"

namespace gantry::engine {

// Adds the GPUs the run asks for (--gpus, or the image's vendor contract) to p.spec.
void add_gpus(Prepared& p);

} // namespace gantry::engine
