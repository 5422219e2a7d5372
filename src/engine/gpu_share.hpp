// The GPU limits and placement of a run, after its GPUs were added (engine/gpus.hpp): --gpu-numa
// auto (the container's cpuset next to its GPUs), --gpu-memory and --gpu-memory-reservation
// (cgroup v2 dmem where the host lists the GPUs' regions, else the MPS client's limit), and
// --gpu-compute and --mps (a client of the host's MPS control daemon: its pipe and log
// directories bound, its /dev/shm shared, the CUDA_MPS_* environment). Each flag is applied
// through the best mechanism the host has or refused naming what is missing (gpu_limits/,
// docs/gpu-sharing.md); what the placement and dmem decide goes into the run's cgroup limits
// (Prepared::resources) and its spec's linux.resources, so `gantry start` applies them again.
#pragma once

#include "engine/engine.hpp"
#include "gpu_vendors/all/backends.hpp"

namespace gantry::engine {

// Their values and conflicts (--gpu-numa auto with --cpuset-*), before anything is read:
// Error(usage) naming the flag.
void check_gpu_share_flags(const RunRequest& request);
// Applies them to P for the GPUs ADDED (none: each flag given is refused: there is no GPU).
void apply_gpu_share(Prepared& p, const gpu_vendors::AddedGpus& added);
// `gantry start` of a created container: the cpuset and dmem limits its create decided, read
// back from its kept spec's linux.resources into P's resources.
void restore_gpu_share(Prepared& p);

} // namespace gantry::engine
