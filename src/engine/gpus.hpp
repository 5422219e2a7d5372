// prepare's GPU step: the GPUs a run asks for (--gpus, or the image's NVIDIA_VISIBLE_DEVICES
// contract), the host's driver and devices (discovered once and cached per boot), the doctor's
// verdict on the image for them (cached per image, driver and GPUs) applied as policy before any
// namespace exists, and the injection as edits of the runtime spec (runspec/gpu.hpp).
#pragma once

#include "compat/doctor.hpp"
#include "engine/engine.hpp"
#include "gpu/request.hpp"

#include <string>
#include <vector>

namespace gantry::engine {

// Applies the doctor's findings: a failure stops the run (Error(run_failed) with the finding's
// fix and the way to override it) unless OVERRIDE names what overrides it (--no-require or
// NVIDIA_DISABLE_REQUIRE), when it is a warning; warnings are logged.
void apply_doctor_policy(const std::vector<compat::Finding>& findings, const char* override_by);

// Adds the GPUs of REQUEST to p.spec (nothing when it asks for none).
void add_gpus(Prepared& p, const gpu::Request& request);

} // namespace gantry::engine
