// The GPUs a bundle asks for, added to its spec before the container is made, as NVIDIA's and
// AMD's container runtimes do for runc: CDI devices named in annotations (the CDI spec's form,
// `cdi.k8s.io/KEY: vendor.com/class=name[,vendor.com/class=name...]`, as containerd and CRI-O
// write them), and the vendors' environment contract in process.env (NVIDIA_VISIBLE_DEVICES,
// AMD_VISIBLE_DEVICES ... as `gantry run` reads an image's), through the GPU layer's step for
// every door (gpu_vendors::add_gpus): the compatibility policy first (NVIDIA_REQUIRE_* and the
// doctor's rules over the host and the container's environment: a container the host's driver
// cannot serve is refused at create, unless NVIDIA_DISABLE_REQUIRE=true in its environment or
// GANTRY_NO_REQUIRE=1 in the runtime's, gantry run's --no-require), then the vendor's CDI
// description, hooks included. A caller of an OCI runtime passes no flags of gantry's, so where
// the host is comes from the runtime's environment: a variable per host-root flag of the vendors
// (root_env_name: --driver-root is GANTRY_DRIVER_ROOT, --dev-root GANTRY_DEV_ROOT, --sys-root
// GANTRY_SYS_ROOT; default /) and GANTRY_CDI_SPEC_DIRS (colon-separated, after /etc/cdi and
// /var/run/cdi). The host is discovered once per container, from the per-boot cache. A bundle
// that asks for no GPU reads nothing of the host.
#pragma once

#include "gpu_vendors/all/backends.hpp"
#include "oci/runtime_spec.hpp"

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::ocirt {

// The environment variable of a host-root flag: "--driver-root" -> "GANTRY_DRIVER_ROOT".
std::string root_env_name(std::string_view flag);

// The host the runtime's environment names (a variable per host-root flag; default /).
gpu_vendors::Roots requested_roots();
// The vendor of the CDI devices ANNOTATIONS name (cdi.k8s.io/...: "nvidia.com/gpu=0" is
// nvidia's backend), null when they name none or a vendor gantry has no backend for.
const gpu_vendors::Backend*
cdi_annotations_backend(const std::map<std::string, std::string>& annotations);

// Edits SPEC; returns the names of the devices added (empty: none asked for). ADDED (when
// given): the backend and PCI functions of the GPUs the environment contract selected (CDI
// devices named in annotations have none), for the GPU share annotations (apply_gpu_share).
std::vector<std::string> add_requested_gpus(oci::RuntimeSpec& spec,
                                            gpu_vendors::AddedGpus* added = nullptr);

// The bundle's GPU share annotations (io.gantry.gpu-memory, -memory-reservation, -compute,
// io.gantry.gpu-numa, io.gantry.mps: docs/gpu-sharing.md) applied through the same code as
// `gantry run`'s flags (gpu_limits/apply.hpp) to SPEC and to CONFIG's linux.resources (the
// cpuset numa auto chose, dmem.max and dmem.min in unified), before the cgroup is made. Error
// naming the annotation where the host lacks the mechanism. Nothing done when none is given, or
// for a pod's sandbox (io.kubernetes.cri.container-type "sandbox": containerd's pod_annotations
// reach it too).
void apply_gpu_share(oci::RuntimeSpec& spec, nlohmann::json& config,
                     const gpu_vendors::AddedGpus& added);

} // namespace gantry::ocirt
