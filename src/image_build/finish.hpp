// image_build/finish: what happens to the target stage's image after its last step and before
// it is committed and tagged: --label's labels, an Entrypoint prefix (a definition file's
// env-sourcing entrypoint, image_build/definition.hpp) and a test command (a definition file's
// %test, as `apptainer build` runs it) run on the finished image in gantry's runtime, its
// writes thrown away: the image is the same whether or not the test ran. A failing test is
// Error(run_failed), and nothing is tagged.
#pragma once

#include "image_build/builder.hpp"
#include "image_build/run_step.hpp"
#include "image_build/work_image.hpp"

namespace gantry::image_build {

void finish_target(store::Store& store, WorkImage& image, const BuildOptions& opt,
                   RunSettings& run);

} // namespace gantry::image_build
