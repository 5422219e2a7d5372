// A RUN step: the command run in gantry's own runtime (engine::prepare/run) on the stage's image
// so far, with a writable layer on disk that becomes the step's layer
// (image_build/layer_commit.hpp). The image is committed to the store and named by a temporary
// reference for the length of the step (store::Store::temporary_ref: prune drops it if the build is
// killed). Rootless, the container maps the caller's subordinate ids when it has them; otherwise it
// runs in fake-root mode (--fake-root: chown and mknod succeed without effect) so package managers
// work under one mapped id. RUN --mount=type=bind|cache|secret|tmpfs become binds and tmpfs mounts
// of the run; their targets are left out of the layer. A step sees no GPU unless it was given
// devices; then they are injected as `gantry run` injects them, confined so the driver stays out of
// the layer (build/step_driver.hpp). A failing command is Error(run_failed) with its exit status
// and the last lines it printed.
#pragma once

#include "engine/engine.hpp"
#include "image_build/step_devices.hpp"
#include "image_build/work_image.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gantry::image_build {

struct RunMounts {
    std::vector<std::string> binds; // engine --mount values (type=bind,src=,dst=[,readonly])
    std::vector<std::string> tmpfs; // DST[:options]
};

struct RunStep {
    std::vector<std::string> argv; // the command (shell form already wrapped)
    std::vector<std::string> env;  // K=V added to the image's Env (build arguments)
    RunMounts mounts;
    std::string network = "host";
    StepDevices devices; // GPUs and devices (build/step_devices.hpp); none by default
    std::string what;    // "[2/5] RUN apt-get ..." for messages
};

struct RunSettings {
    engine::Caller caller;
    bool fake_root = false;            // the mode this build's RUN steps use
    std::optional<std::int64_t> epoch; // SOURCE_DATE_EPOCH
    bool quiet = false;
    // fake-root: a file saying `APT::Sandbox::User "root";`, bound (read-only, never in the
    // layer) into /etc/apt/apt.conf.d of images that have it, as Charliecloud's ch-image does:
    // apt's methods drop to _apt and check that they did, which a faked setuid cannot pass
    std::string apt_no_sandbox;
    DeviceHost device_host; // where the GPU host and the CDI specs are
};

// How RUN steps run for this caller: "root" (real root), "subordinate ids" (a full range
// mapped) or "fake-root" (one id mapped, seccomp fakes ownership calls).
std::string run_mode(engine::Caller& caller);

// Runs STEP on IMAGE; returns the layer it left (nullopt when it changed no file).
std::optional<WorkLayer> run_step(store::Store& store, const WorkImage& image, const RunStep& step,
                                  RunSettings& settings);

} // namespace gantry::image_build
