// The vendor-neutral GPU layer. Each GPU vendor is a Backend in its own folder
// (gpu_vendors/nvidia/, gpu_vendors/amd/, gpu_vendors/intel/) that owns everything vendor-shaped:
// discovering the host (cached), reading the container's request (the --gpus flag and the vendor's
// environment contract), the doctor's rules, and one description of what a container needs: CDI
// container edits (device nodes, mounts, env, hooks). Every door applies that description through
// the one CDI applier (cdi::apply; apply_plan below): `run` (engine's GPU step), `bundle`,
// `gantry oci`, and `cdi generate` writes it. The CLI parses and prints. A fourth vendor is a new
// folder and one line in gpu_vendors/all/backends.cpp.//
// Choosing a vendor (choose()): --gpu-vendor when given; else the one vendor whose kernel driver
// the host has; on a host with several, the first of them in registry order (NVIDIA, AMD,
// Intel: docker's --gpus has always meant NVIDIA); with none, NVIDIA.
// A run that asks for no GPU (no --gpus, no vendor variable in its environment) never looks at
// the host at all.
#pragma once

#include "cdi/spec_model.hpp"
#include "device_code/format.hpp"
#include "findings/finding.hpp"
#include "gpu_vendors/image_findings.hpp"
#include "gpu_vendors/roots.hpp"
#include "kernel_cache/variables.hpp"
#include "oci/runtime_spec.hpp"
#include "rootfs/image_files.hpp"
#include "store/images.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace gantry::lint {
struct RuleSet; // lint/lint.hpp
} // namespace gantry::lint

namespace gantry::gpu_vendors {

// Who the container's process will be on the host, for device access checks and groups.
struct CallerIds {
    bool real_root = false; // the host's root: nodes can be created, every gid is mapped
    uid_t uid = 0;
    gid_t gid = 0;
    bool subid_maps = false; // rootless with subordinate ids (a full map; setgroups allowed)
};

// The image a container is made from, for the rules that read its files.
struct ImageContext {
    const store::Store& store;
    const store::Image& image;
    const rootfs::ImageFiles& files; // its files: the store's layers or a squashfs file
    const std::string& ref;          // the image as the user named it
};

// The door a container comes through: what its GPU step may assume of the runtime that starts it.
enum class Door {
    // gantry's own launcher (run, create/start, the Engine API, build's RUN steps): the caller's
    // access to the nodes is checked first, the driver's libraries go where the image keeps its
    // own, gantry's own hooks are done in-process (apply_plan)
    run,
    // `gantry bundle`: a config.json for runc or crun, which run the hooks
    bundle,
    // `gantry oci`: a bundle from containerd, podman or the CRI; gantry's runtime runs the hooks
    oci,
};

// What every door gives its GPU step.
struct GpuContext {
    Door door = Door::run;
    const std::vector<std::string>& env;    // the container's final environment
    const std::optional<std::string>& gpus; // --gpus, when given
    const Roots& roots;
    const ImageContext* image = nullptr; // null (a bundle's root): the image rules are skipped
    CallerIds caller;
    bool no_require = false; // --no-require: the doctor's failures only warn
    std::string cache_dir;   // per-boot cache root (runtime dir); "" disables caching
    std::string gantry_path; // absolute path of the gantry binary the description's hooks call
    // how this door's user says no_require, for messages ("GANTRY_NO_REQUIRE=1" for gantry oci)
    const char* no_require_name = "--no-require";
};

// A container's GPUs on this host, as a vendor describes them for every door: the compatibility
// policy's findings (the doctor's rules for this request, host and image), and the CDI
// description of the selected devices: SPEC is what `gantry cdi generate` writes for the host
// (its spec-wide edits and one device per GPU), shaped for this container (its driver
// capabilities; on Door::run, libraries in the image's own directories), and DEVICES the names in
// it of the devices the request selects. No devices: the request asks for none.
struct GpuPlan {
    std::vector<findings::Finding> findings;
    const char* override_by = nullptr; // what turned the failures into warnings ("--no-require")
    std::string how_to_override;       // the hint's way out ("--no-require runs it anyway")
    cdi::Spec spec;
    std::vector<std::string> devices;
    std::vector<std::string> warnings; // what the description left out, and why
    // The PCI functions of the selected GPUs ("0000:3b:00.0", sysfs' form: pci_function_name),
    // each once, in PCI address order: how the container numbers its GPUs (0, 1, ...) for
    // --gpu-memory's per-GPU values, and where their NUMA node, local CPUs and dmem regions are
    // read (gpu_limits/). A partition's (MIG, an AMD partition) is its GPU's. Empty when the
    // vendor cannot say (WSL2).
    std::vector<std::string> pci_functions;
};

// A PCI address as sysfs names the function ("0000:3b:00.0": 4-digit domain, lower-case hex)
// from any of the vendors' forms (NVML's "00000000:3B:00.0"); "" when ID is not one.
std::string pci_function_name(std::string_view id);
// Sets PLAN's pci_functions from IDS (any form pci_function_name reads; malformed ones left
// out): sorted, each once.
void set_pci_functions(GpuPlan& plan, const std::vector<std::string>& ids);

// What a container asks of the host's GPU-sharing daemon (Backend::sharing_client).
struct SharingRequest {
    std::string place;                   // --mps=DIR ("": the vendor's variable or default)
    const std::vector<std::string>& env; // the container's environment
    std::vector<std::string> caller_env; // gantry's own
    std::vector<std::optional<std::uint64_t>> memory; // bytes per container GPU; nullopt: none
    unsigned compute = 0;                             // percent of each GPU's compute; 0: not asked
    uid_t client_uid = 0;                             // the container's processes' uid on the host
};
// How the container becomes the daemon's client: host directories bound at the same paths, the
// host's /dev/shm shared (the dev root's), environment entries, warnings to print.
struct SharingClient {
    std::vector<std::string> directories;
    bool shares_dev_shm = false;
    std::vector<std::string> env;
    std::vector<std::string> warnings;
};

// An advisory compute share (--gpu-compute where the vendor has no sharing daemon): environment
// entries asking the vendor's runtime to use a part of each GPU, and a sentence saying how much
// and that the kernel does not enforce it (a process may change its environment).
struct AdvisoryShare {
    std::vector<std::string> env;
    std::string note;
};

// What `gantry doctor` gives a backend. Without an image only the host rules run.
struct DoctorContext {
    const Roots& roots;
    const store::Store* store = nullptr; // null: no image
    const store::Image* image = nullptr;
    std::string ref;
    std::vector<std::string> env; // the image's Env, then -e
    std::optional<std::string> gpus;
    std::string path_prefix; // --path: scan only image files under it
    std::string cache_dir;
    CallerIds caller;
};

// What `gantry cdi generate` gives a backend.
struct CdiOptions {
    std::vector<std::string> naming; // device name strategies ("index", "uuid"); empty: default
    std::string gantry_path;         // absolute path of the gantry binary hooks call
};

// An OCI hook a vendor's CDI specs call as `gantry hook NAME [--OPTION VALUE]...` (podman, crun
// and runc run it at createContainer), beyond the vendor-neutral create-symlinks and
// update-ldcache: what it does is replace files of the container with content of its own.
struct HookOption {
    std::string_view name;          // "--params"
    std::string_view default_value; // "/proc/driver/nvidia/params"
    std::string_view help;
};
struct FileOverlay {
    std::string container_path; // "/proc/driver/nvidia/params"
    std::string content;        // bound read-only over it
};
struct VendorHook {
    std::string_view name; // the subcommand: "disable-device-node-modification"
    std::string_view help;
    std::vector<HookOption> options;
    // The overlays to make, from the options' values (by name, defaults filled in); none when
    // there is nothing to do on this host. Runs in the hook's process, before the container's.
    std::vector<FileOverlay> (*overlays)(const std::map<std::string, std::string>& options);
};

class Backend {
  public:
    virtual ~Backend() = default;
    // --gpu-vendor's word ("nvidia", "amd"), also the CDI spec file's base name.
    virtual std::string_view name() const = 0;
    // The CDI kind of its GPUs ("nvidia.com/gpu", "amd.com/gpu").
    virtual std::string_view cdi_kind() const = 0;
    // A stat or two: whether the host has this vendor's kernel driver. Never throws.
    virtual bool present(const Roots& roots) const = 0;
    // Whether the container asks for GPUs: --gpus, or the vendor's environment contract
    // (NVIDIA_VISIBLE_DEVICES, AMD_VISIBLE_DEVICES). String checks only, no discovery.
    virtual bool asked(const std::vector<std::string>& env,
                       const std::optional<std::string>& gpus) const = 0;
    // Every door's GPU step (gpu_vendors::add_gpus): discovery (cached per boot), the request
    // resolved to devices, the doctor's findings for them, and their CDI description. On
    // Door::run the caller's access to the nodes is checked. Throws Error (usage for a malformed
    // request, not_found for an unknown device, run_failed for a doomed launch).
    virtual GpuPlan plan(const GpuContext& ctx) const = 0;
    // `gantry cdi generate`: the host's GPUs as a CDI spec. Error(not_found) when it has none.
    virtual cdi::Spec generate_cdi(const Roots& roots, const CdiOptions& options,
                                   std::vector<std::string>* warnings) const = 0;
    // `gantry doctor`: the host rules, and with an image the image's rules for the GPUs the
    // request would get.
    virtual std::vector<findings::Finding> doctor(const DoctorContext& ctx) const = 0;
    // `--keep-arch host`: the device-code target of each of the host's GPUs, as --keep-arch
    // takes them ("sm_90"; "gfx942:sramecc+", a feature the host cannot tell left out), in
    // device order, repeated targets once. Empty when the host has none of this vendor's GPUs;
    // Error(not_found) when it has GPUs whose target cannot be read (the fix names --keep-arch).
    virtual std::vector<std::string> device_targets(const Roots& roots) const = 0;
    // `--kernel-cache`'s key (kernel_cache/key.hpp): what code compiled on this host for this
    // vendor's GPUs depends on, "name=value" in a fixed order: the driver's and runtime's
    // versions and the GPUs' targets ("driver=580.95.05", "cuda=13.0", "targets=sm_80,sm_90").
    // CACHE_DIR: the per-boot discovery cache (runtime dir; "" none). By default the targets
    // alone ("targets=unknown" when they cannot be read).
    virtual std::vector<std::string> kernel_cache_facts(const Roots& roots,
                                                        const std::string& cache_dir) const;
    // The variables that point this vendor's JIT and kernel caches into a container's kernel
    // cache (CUDA_CACHE_PATH, MIOPEN_USER_DB_PATH, ...), and those that turn them off (the
    // doctor's KERNEL-CACHE-DISABLED). None by default.
    virtual std::vector<kernel_cache::Variable> kernel_cache_variables() const { return {}; }
    virtual std::vector<kernel_cache::Disabler> kernel_cache_disablers() const { return {}; }
    // The GPU-sharing daemon on the host this vendor's runtime can be a client of, taking
    // per-client memory and compute limits ("an MPS control daemon"; NVIDIA's MPS), in words for
    // messages: how --mps, --gpu-compute, and --gpu-memory without dmem are applied. "" (the
    // default): none, and those flags are refused for the vendor, naming it.
    virtual std::string_view sharing_daemon() const { return {}; }
    // The container as a client of that daemon (engine/gpu_share.hpp). Error(run_failed) naming
    // where it looked and how to start one when none is there; Error(usage) for a malformed
    // place. Never called when sharing_daemon() is "".
    virtual SharingClient sharing_client(const SharingRequest& request) const;
    // --gpu-compute PERCENT of the GPUs PCI_FUNCTIONS (the container's order) on the host ROOTS
    // without a sharing daemon: the vendor's advisory share (AMD: ROCm's HSA_CU_MASK). Empty env
    // (the default): none, and --gpu-compute is refused for the vendor. Error(run_failed) naming
    // what cannot be read.
    virtual AdvisoryShare advisory_compute_share(const Roots& roots,
                                                 const std::vector<std::string>& pci_functions,
                                                 unsigned percent) const {
        (void)roots, (void)pci_functions, (void)percent;
        return {};
    }
    // The host-root flags this vendor reads (--driver-root, --dev-root, ...), declared once for
    // every command by the CLI from all vendors' lists (host_root_flags()).
    virtual std::vector<RootFlag> root_flags() const = 0;
    // The environment entry that hides this vendor's GPUs from a container whatever its image
    // asks for ("NVIDIA_VISIBLE_DEVICES=void"): what a build's RUN steps get. Empty for a vendor
    // whose GPUs no environment variable asks for (Intel: --gpus only).
    virtual std::string_view hide_env() const = 0;
    // One of this vendor's --keep-arch targets with the kind of code it names ("sm_90 (CUDA)"),
    // for the hints that tell a user how to name GPUs by hand.
    virtual std::string_view keep_arch_example() const = 0;
    // The device-code formats of this vendor's GPUs (CUDA fat binaries, HIP offload bundles):
    // what tailor, analyze, slim, doctor --fatbin and build --gpu-arch go through. None by
    // default.
    virtual std::vector<const device_code::Format*> device_code() const { return {}; }
    // `gantry lint`: the Dockerfile rules that name this vendor's toolkit (their codes, severities
    // and titles, checks over lint's build model, the variables that choose its GPUs). None by
    // default.
    virtual const lint::RuleSet* lint_rules() const { return nullptr; }
    // `gantry analyze`: a fresh state for one image's findings of this vendor
    // (image_findings.hpp). None by default.
    virtual std::unique_ptr<ImageFindings> analyze_findings() const { return nullptr; }
    // Apptainer's run flag that asks for this vendor's GPUs ("--nv", "--rocm"): `gantry run` takes
    // it as --gpus all with this vendor. None by default.
    virtual std::string_view apptainer_flag() const { return {}; }
    // The name docker knows this vendor's container toolkit by as a runtime (`docker run
    // --runtime nvidia`, nvidia-docker's): `gantry run --runtime` and the Engine API take it as
    // gantry itself. None by default.
    virtual std::string_view docker_runtime() const { return {}; }
    // The hooks of this vendor's CDI specs (`gantry hook NAME`); none by default.
    virtual std::vector<VendorHook> hooks() const { return {}; }
    // `gantry doctor` with another vendor chosen: a finding when IMAGE is made for this vendor
    // and the host has none of its GPUs (AMD: ROCM-IMAGE-NO-AMD). A lookup or two; never on
    // run's path. Nothing by default.
    virtual std::optional<findings::Finding> image_without_host(const store::Store& store,
                                                                const store::Image& image,
                                                                const Roots& roots) const;

    // ---- what the vendor-neutral modules read of a vendor by name (issue 74) ----
    // `gantry analyze`'s DEVEL-TOOLCHAIN class: what of this vendor's toolkit a final image does
    // not need, its compilers and developer tools. None by default.
    struct Toolchain {
        std::span<const std::string_view> programs; // file names in a bin/: "nvcc", "ptxas"
        std::span<const std::string_view> paths;    // path parts: "nvvm/bin/", "nsight-compute"
    };
    virtual Toolchain toolchain() const { return {}; }
    // The variables that number this vendor's GPUs for its runtime, as Slurm's gres/gpu sets them
    // for a step (gres.conf's nvidia_gpu_env: CUDA_VISIBLE_DEVICES): the Slurm plugin reads the
    // step's GPUs from them and renumbers them for the container, which sees its GPUs from 0.
    // None by default.
    virtual std::span<const std::string_view> slurm_gpu_variables() const { return {}; }
};

// Applies the doctor's findings as a run's policy: a failure stops the run (Error(run_failed)
// with the finding's fix and HOW_TO_OVERRIDE in its hint) unless OVERRIDE_BY names what overrides
// it (--no-require, NVIDIA_DISABLE_REQUIRE), when it is a warning; warnings are logged.
void apply_policy(const std::vector<findings::Finding>& findings, const char* override_by,
                  std::string_view how_to_override = "--no-require runs it anyway");

// The last value of KEY in ENV ("KEY=value" entries), if any.
std::optional<std::string> env_value(const std::vector<std::string>& env, std::string_view key);

} // namespace gantry::gpu_vendors
