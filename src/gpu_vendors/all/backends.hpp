// gpu_vendors/all: every GPU vendor gantry has, in one list, and what goes over all of them:
// choosing the vendor for a host or a run, the union of their host-root flags, the doctor's
// findings of the others, --keep-arch host, every door's GPU step. The one place that names the
// vendors (backends.cpp's list): the modules above call these and name none.
#pragma once

#include "gpu_vendors/backend.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_vendors {

// Every backend, in registry order (NVIDIA first), then those added by register_backend.
const std::vector<const Backend*>& backends();
// Adds BACKEND after the built-in ones (a vendor outside the list, e.g. a test's); a name
// already registered is Error(usage). unregister_backend takes it out again.
void register_backend(const Backend& backend);
void unregister_backend(const Backend& backend);
// Every vendor's host-root flags, each name once, in registry order (--help: root_flag_help).
std::vector<RootFlag> host_root_flags();

// The --help of the host-root flag NAME: the first declaring vendor's help, then every
// declaring vendor's own part in parentheses ("Root of the GPU driver installation (NVIDIA: ...;
// AMD on WSL2: ...; Intel: ...)"); "" for a flag no vendor declares.
std::string root_flag_help(std::string_view name);
// Every vendor's device-code formats, in registry order (NVIDIA's CUDA first).
std::vector<const device_code::Format*> device_code_formats();
// Every vendor's lint rules (Backend::lint_rules), in registry order: lint::Options::rule_sets.
std::vector<const lint::RuleSet*> lint_rule_sets();
// Every vendor's analyze state for one image (Backend::analyze_findings), in registry order.
std::vector<std::unique_ptr<ImageFindings>> analyze_findings();
// Every vendor's docker_runtime(), in registry order: the --runtime names gantry takes as itself.
std::vector<std::string> docker_runtimes();
// --gpu-vendor's help: the registered names and which is taken without the flag ("nvidia, amd
// or intel (default: ...; the first of nvidia, amd, intel when several)"), so that adding a
// vendor changes no command's file.
std::string vendor_flag_help();
// Every vendor's hide_env(), in registry order: a container that must see no GPU.
std::vector<std::string> hide_gpus_env();
// Whether FILE_NAME ("nvcc") is a vendor's toolkit compiler or developer tool, and whether PATH
// is in one of its toolkits' tool trees (Backend::toolchain): analyze's DEVEL-TOOLCHAIN class.
bool is_toolchain_program(std::string_view file_name);
bool in_toolchain_path(std::string_view path);
// Every vendor's slurm_gpu_variables(), in registry order, each once: what `gantry
// __slurm-gpu-vendors` prints for the Slurm plugin.
std::vector<std::string> slurm_gpu_variables();
// `gantry doctor`: BACKEND's findings, then every other vendor's image_without_host.
std::vector<findings::Finding> doctor(const Backend& backend, const DoctorContext& ctx);
// --kernel-cache's variables: the vendor-neutral ones (kernel_cache/variables.hpp), then every
// vendor's in registry order; and those that turn a cache off, for the doctor. Every vendor's,
// whichever GPUs the container gets: an image may hold several vendors' runtimes.
std::vector<kernel_cache::Variable> kernel_cache_variables();
std::vector<kernel_cache::Disabler> kernel_cache_disablers();
// The backend named NAME; Error(usage) listing the names when there is none.
const Backend& find(std::string_view name);
// The vendor for this host: WANTED (--gpu-vendor) when given, else as the header says.
const Backend& choose(const Roots& roots, const std::optional<std::string>& wanted);
// The backend a run's GPU step goes to, or null when the container asks for no GPU of any
// vendor (then nothing of the host is read). Without WANTED, a vendor whose own variable the
// environment sets and whose GPUs the host has comes first (AMD_VISIBLE_DEVICES on a host with
// NVIDIA's GPUs too); else choose()'s.
const Backend* for_run(const Roots& roots, const std::optional<std::string>& wanted,
                       const std::vector<std::string>& env, const std::optional<std::string>& gpus);

// The device-code targets of every GPU on the host, every vendor whose driver is present (see
// Backend::device_targets). Error(not_found) when there is none.
std::vector<std::string> host_targets(const Roots& roots);
// A --keep-arch value as a list: "host" becomes host_targets joined with ','; anything else is
// returned as given (tailor::parse_keep_list checks it).
std::string keep_arch_list(const std::string& value, const Roots& roots);

// The doctor's failures for AFTER, on the host with every GPU of each vendor present, whose ID
// BEFORE does not fail with: what a rewrite of BEFORE (tailoring) broke for this host. Both
// images are checked with the environment a run would give them and no -e.
std::vector<findings::Finding> doctor_regressions(const Roots& roots, const store::Store& store,
                                                  const store::Image& before,
                                                  const store::Image& after, CallerIds caller,
                                                  const std::string& cache_dir);

// Every door's GPU step (run, bundle, gantry oci): the vendor for the request (for_run, WANTED
// being --gpu-vendor; none: nothing of the host is read), its plan (Backend::plan: discovery
// once, cached per boot), the compatibility policy over the plan's findings (apply_policy: a
// failure stops the container unless --no-require or the vendor's variable overrides it), and
// the plan's CDI description applied (apply_plan; STATE_DIR: a run's container directory).
// Returns the qualified names of the devices added (none when the request asks for no GPU);
// warnings go to WARNINGS.
// ADDED (when given): the backend that added them and the PCI functions of their GPUs
// (GpuPlan::pci_functions), for the GPU limits and placement a door applies next (gpu_limits/).
struct AddedGpus {
    const Backend* backend = nullptr;
    std::vector<std::string> pci_functions;
};
std::vector<std::string> add_gpus(oci::RuntimeSpec& spec, const GpuContext& ctx,
                                  const std::optional<std::string>& wanted,
                                  const std::string& state_dir, std::vector<std::string>* warnings,
                                  AddedGpus* added = nullptr);

} // namespace gantry::gpu_vendors
