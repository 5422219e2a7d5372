// gpu_limits/placement: --gpu-numa auto, a container's CPUs and memory next to its GPUs. Each
// GPU's NUMA node and the CPUs local to it are read from PCI sysfs under the sys root
// (sys/bus/pci/devices/<bdf>/numa_node, -1 when the platform does not say, and local_cpulist,
// drivers/pci/pci-sysfs.c); the container gets the union over its GPUs, intersected with what
// the caller may use (its affinity, which the kernel keeps within its cpuset's effective CPUs,
// and the online nodes).
#pragma once

#include "findings/finding.hpp"

#include <string>
#include <vector>

namespace gantry::gpu_limits {

// Where one GPU sits: its NUMA node (-1: the platform does not say) and its local CPUs ("0-15").
struct GpuLocality {
    std::string pci_function; // "0000:3b:00.0"
    int node = -1;
    std::string local_cpus;
};

// GPU PCI_FUNCTION's locality under SYS_ROOT (a simulated host's, or "/"). Error(run_failed)
// naming the file when the device or its local_cpulist is missing or malformed.
GpuLocality read_locality(const std::string& sys_root, const std::string& pci_function);

// The cpuset of a container whose GPUs are GPUS.
struct Placement {
    std::string cpus, mems;            // cpuset lists; mems "" when no GPU reports a node
    std::vector<std::string> warnings; // GPUs on several nodes, a GPU without a node
};

// The CPUs local to GPUS that ALLOWED_CPUS holds, and their nodes that ALLOWED_MEMS holds.
// Error(run_failed) when that leaves no CPU, or no memory node while the GPUs report one: the
// message names the GPUs' CPUs or nodes and what the caller may use.
Placement place_near(const std::vector<GpuLocality>& gpus, const std::string& allowed_cpus,
                     const std::string& allowed_mems);

// doctor's GPU-NUMA-FAR findings: one (a warning) for each of GPUS none of whose local CPUs is
// among CPUS, the container's ("0-3"). CPUS_ARE: whose they are, for the message ("--cpuset-cpus
// 0-3", "the CPUs gantry may use"). Naming the GPU, its node and the fix (--gpu-numa auto, or
// --cpuset-cpus with its local CPUs). None for a GPU whose local CPUs are not known.
std::vector<findings::Finding> far_cpu_findings(const std::vector<GpuLocality>& gpus,
                                                const std::string& cpus,
                                                const std::string& cpus_are);

} // namespace gantry::gpu_limits
