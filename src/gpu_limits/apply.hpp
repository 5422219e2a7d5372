// gpu_limits/apply: a container's GPU limits and placement applied, the one path of every door:
// `gantry run`/`create` through their flags (engine/gpu_share.hpp), `gantry oci` through the
// bundle's io.gantry.* annotations (ocirt/, as Kubernetes passes no flags). The placement next to
// the GPUs (placement.hpp), GPU memory through cgroup v2 dmem where the host lists the GPUs'
// regions (dmem.hpp), else through the vendor's sharing daemon (NVIDIA's MPS: its client's limits,
// pipe and log directories, /dev/shm), else refused naming what is missing; a compute share
// through the daemon, else the vendor's advisory share (AMD's HSA_CU_MASK, said to be advisory on
// stderr: Backend::advisory_compute_share), else refused.
// The spec's environment and mounts are edited here; the cgroup's part is returned for the door
// to write (runtime::Resources for run, linux.resources for oci). docs/gpu-sharing.md.
#pragma once

#include "gpu_vendors/all/backends.hpp"
#include "oci/runtime_spec.hpp"

#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::gpu_limits {

// What a container asks, as given ("" = not asked; mps "true" = the daemon's usual place).
struct ShareAsk {
    std::string numa, memory, memory_reservation, compute, mps;
    std::string cpuset_cpus, cpuset_mems; // the user's own cpuset ("" = none)
    bool any() const {
        return (!numa.empty() && numa != "off") || !memory.empty() || !memory_reservation.empty() ||
               !compute.empty() || !mps.empty();
    }
};

// How the door names each ask in its messages (the flags, or the annotations), and how a user
// of it selects GPUs (for the refusal of a container without any).
struct AskNames {
    std::string numa, memory, memory_reservation, compute, mps, cpuset_cpus, cpuset_mems;
    std::string select_gpus;
};
// Made on first use (a function's static: no initializer runs at every gantry start)
const AskNames& flag_names();       // --gpu-numa, --gpu-memory, ...
const AskNames& annotation_names(); // io.gantry.gpu-numa, io.gantry.gpu-memory, ...

// The io.gantry.* annotations of a bundle that ask for a GPU share (annotation_names()' keys).
bool is_share_annotation(const std::string& key);
// Those of ANNOTATIONS as an ask (the bundle's linux.resources cpuset given by the door).
ShareAsk ask_from_annotations(const std::map<std::string, std::string>& annotations);

// The values and their conflicts (numa auto with a cpuset of the user's), before anything is
// read: Error(usage) naming the flag or annotation.
void check_ask(const ShareAsk& ask, const AskNames& names);

// Where the host is and who the container's processes are.
struct ShareHost {
    gpu_vendors::Roots roots;            // --sys-root (the GPUs' PCI sysfs), --dev-root (/dev/shm)
    std::vector<std::string> caller_env; // the engine's own environment (CUDA_MPS_*)
    uid_t client_uid = 0;                // the container's processes' uid on the host
};

// What goes into the container's cgroup: cpuset lists and dmem's "REGION BYTES" lines.
struct ShareLimits {
    std::string cpuset_cpus, cpuset_mems, dmem_max, dmem_min;
};

// ASK applied to SPEC (environment, mounts) for the GPUs ADDED (no backend: the container gets
// none, and every ask is refused). Warnings go to stderr. Error(usage) for values; Error
// (run_failed) naming the ask and what the host lacks.
ShareLimits apply_share(const ShareAsk& ask, const AskNames& names,
                        const gpu_vendors::AddedGpus& added, const ShareHost& host,
                        oci::RuntimeSpec& spec);

} // namespace gantry::gpu_limits
