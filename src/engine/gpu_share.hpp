// The GPU limits and placement of a run, after its GPUs were added (engine/gpus.hpp): --gpu-numa
// auto (the container's cpuset next to its GPUs), --gpu-memory and --gpu-memory-reservation
// (cgroup v2 dmem where the host lists the GPUs' regions, else the MPS client's limit), and
// --gpu-compute and --mps (a client of the host's MPS control daemon: its pipe and log
// directories bound, its /dev/shm shared, the CUDA_MPS_* environment). Each flag is applied
// through the best mechanism the host has or refused naming what is missing, by
// gpu_limits/apply.hpp (the path `gantry oci`'s annotations take too; docs/gpu-sharing.md); what
// the placement and dmem decide goes into the run's cgroup limits (Prepared::resources) and its
// spec's linux.resources, so `gantry start` applies them again.
#pragma once

#include "engine/engine.hpp"
#include "findings/finding.hpp"
#include "gpu_vendors/all/backends.hpp"

namespace gantry::engine {

// Their values and conflicts (--gpu-numa auto with --cpuset-*), before anything is read:
// Error(usage) naming the flag.
void check_gpu_share_flags(const RunRequest& request);
// Applies them to P for the GPUs ADDED (none: each flag given is refused: there is no GPU).
void apply_gpu_share(Prepared& p, const gpu_vendors::AddedGpus& added);
// doctor's GPU-NUMA-FAR findings (gpu_limits::far_cpu_findings) for a run of BACKEND's GPUs GPUS
// (--gpus; ENV the container's environment) on the host ROOTS, whose CPUs are CPUSET
// (--cpuset-cpus; "": the CPUs gantry may use, its affinity within its cgroup's cpuset). None
// where the GPUs or their places cannot be read (said with --debug).
std::vector<findings::Finding>
far_cpu_findings(const gpu_vendors::Backend& backend, const gpu_vendors::Roots& roots,
                 const std::optional<std::string>& gpus, const std::vector<std::string>& env,
                 const std::string& cpuset, const gpu_vendors::CallerIds& caller);
// `gantry start` of a created container: the cpuset and dmem limits its create decided, read
// back from its kept spec's linux.resources into P's resources.
void restore_gpu_share(Prepared& p);

} // namespace gantry::engine
