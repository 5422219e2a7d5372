// gantry build's executor: a Dockerfile's plan (image_build/plan.hpp) carried out stage by stage on
// the store. FROM takes a store image (pulled when missing, or always with --pull), `scratch`
// or an earlier stage; config instructions change the stage's config (image_build/stage_state.hpp);
// RUN runs in gantry's runtime (image_build/run_step.hpp); COPY/ADD write layers from the context
// or another stage (image_build/copy_step.hpp); WORKDIR creates its directory; HEALTHCHECK and
// ONBUILD (triggers of a base image run after its FROM) as docker. Every RUN/COPY/ADD step first
// looks in the step cache (image_build/cache.hpp) under a key chained from the base image's ID
// through every instruction, with the content digests of what the step reads; a hit reuses the
// layer and runs nothing. The target stage is committed to the store and tagged; history entries as
// BuildKit writes them; timestamps clamped to SOURCE_DATE_EPOCH when set. Devices in RUN steps
// (--device, --gpus, RUN --device) need --allow device; that, and every required device's
// presence, are checked before any step runs.
#pragma once

#include "dockerfile/dockerfile.hpp"
#include "engine/engine.hpp"
#include "image_build/options.hpp"
#include "image_build/step_devices.hpp"
#include "oci/digest.hpp"
#include "registry/pull.hpp"
#include "store/platforms.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gantry::image_build {

struct BuildOptions {
    std::string context;         // the context directory
    std::string dockerfile;      // the Dockerfile's text
    std::string dockerfile_name; // for messages ("Dockerfile", "-", "app.def")
    // set: these instructions are built and `dockerfile` is not parsed (a definition file's,
    // image_build/definition.hpp)
    std::optional<dockerfile::Dockerfile> instructions;
    // named contexts: COPY --from=NAME reads the directory (a stage of that name wins)
    std::map<std::string, std::string> contexts;
    std::vector<std::string> entrypoint_prefix; // put before the result's Entrypoint
    std::vector<std::string> test_argv; // run on the result before it is tagged; writes dropped
    std::vector<std::string> tags;
    // no tags: the image is kept untagged (store::Store::untagged, docker's <none>:<none>), so
    // it is found by its ID; else (build -o FILE.sif) nothing keeps it from `system prune`
    bool keep_untagged = false;
    std::map<std::string, std::string> build_args;
    std::map<std::string, std::string> labels;
    std::vector<Secret> secrets;
    std::string target;
    std::string network = "host";
    std::string platform;
    bool no_cache = false;
    bool pull = false;
    bool quiet = false;
    unsigned jobs = 1; // independent stages built at once (image_build/stage_jobs.hpp)
    std::optional<std::int64_t> epoch;          // SOURCE_DATE_EPOCH
    std::map<std::string, std::string> gpu_env; // --gpu-arch: the toolchains' variables
    std::map<std::string, std::string> cpu_env; // --cpu-arch: CFLAGS, RUSTFLAGS, ...
    std::vector<DeviceUse> devices; // --device, --gpus: every RUN step's (build/step_devices.hpp)
    std::vector<std::string> allow; // --allow: "device" or "device=KIND|NAME"
    DeviceHost device_host;         // the GPU host's roots and the CDI spec directories
    registry::PullOptions pull_options;               // for FROM images not in the store
    std::function<void(const std::string&)> progress; // one line per step (stderr)
};

struct BuildResult {
    // several platforms: the index of their images (the store's index of each tag, or an
    // unnamed blob without tags), as both
    oci::Digest manifest, id;
    std::vector<store::PlatformImage> platforms; // several platforms: each one's image
    std::string mode;                            // how RUN ran: root, subordinate ids, fake-root
    int steps = 0, cached = 0, ran = 0;
    std::vector<std::string> tags; // normalised references now naming it
};

// STORE/build-cache: the step cache (steps/) and RUN --mount=type=cache directories (mounts/).
std::filesystem::path cache_dir(const store::Store& store);

// OPT.platform may name several platforms ("linux/amd64,linux/arm64"): one build each, the
// tags then naming all of them (store/platforms.hpp).
BuildResult build(store::Store& store, const BuildOptions& opt, engine::Caller caller);

// One platform's build (OPT.platform one or none), under the caller's writer lock.
BuildResult build_one_platform(store::Store& store, const BuildOptions& opt, engine::Caller caller);

// The platforms of --platform P1,P2,... in order: Error(usage) for an empty or repeated one.
std::vector<std::string> build_platforms(const std::string& text);

} // namespace gantry::image_build
