// RUN --mount as BuildKit defines it, turned into the run's binds and tmpfs mounts:
//   type=bind    source (default the root) from the context, or from= a stage or an image;
//                read-only unless rw (then a copy, thrown away after the step)
//   type=cache   a directory kept in the store across builds (STORE/build-cache/mounts/), by
//                id (default: the target); sharing=shared|private|locked; mode, uid, gid when
//                it is created
//   type=secret  a --secret (by id; target default /run/secrets/ID), read-only, never in a
//                layer or the cache key; a missing one is an error when required=true
//   type=tmpfs   a tmpfs (size=)
// type=ssh is refused. Relative targets are under WORKDIR. A bind's content digest goes into the
// step's cache key (a changed file in a bound directory reruns the step).
#pragma once

#include "dockerfile/dockerfile.hpp"
#include "image_build/context.hpp"
#include "image_build/options.hpp"
#include "image_build/run_step.hpp"
#include "image_build/stage_state.hpp"
#include "store/store.hpp"
#include "util/lock.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace gantry::image_build {

struct MountContext {
    store::Store& store;
    const Context& context;
    const StageState& state;
    const std::vector<Secret>& secrets;
    std::filesystem::path cache_mounts; // STORE/build-cache/mounts
    std::filesystem::path work;         // this build's scratch directory
    // a stage's or image's files as a directory, and its ID
    std::function<std::filesystem::path(const std::string& ref, std::string& id)> tree;
};

// Adds INS's --mount flags to OUT and their inputs to INPUTS; returns the locks of
// sharing=locked cache mounts, held for the step.
std::vector<FileLock> run_mounts(const MountContext& mc, const dockerfile::Instruction& ins,
                                 RunMounts& out, std::vector<std::string>& inputs);

} // namespace gantry::image_build
