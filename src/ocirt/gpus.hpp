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

#include "gpu_vendors/backend.hpp"
#include "oci/runtime_spec.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace gantry::ocirt {

// The environment variable of a host-root flag: "--driver-root" -> "GANTRY_DRIVER_ROOT".
std::string root_env_name(std::string_view flag);

// The host the runtime's environment names (a variable per host-root flag; default /).
gpu_vendors::Roots requested_roots();

// Edits SPEC; returns the names of the devices added (empty: none asked for). BACKEND (when
// given) is set to the vendor whose GPUs were added (by CDI name or by the vendors' variables),
// null when none.
std::vector<std::string> add_requested_gpus(oci::RuntimeSpec& spec,
                                            const gpu_vendors::Backend** backend = nullptr);

} // namespace gantry::ocirt
