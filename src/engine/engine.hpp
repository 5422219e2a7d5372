// The engine: preparing and running a container from an image, as one recipe of named steps.
//
//   prepare(store, request, caller)   check the request; the early start; the image's run view;
//                                     the runtime spec; the scratch (writable layer); the GPUs
//                                     (discovery, the doctor's policy, injection); CDI devices and
//                                     their hooks
//   prepare_again(store, request, ...) a kept container's preparation read back (create and
//                                     run -d keep it): `gantry start` prepares nothing
//   run(prepared)                     the state record (named or detached); the cgroup; the
//                                     launch, with the overlay -> flattened-root fallback; the
//                                     write report; -d: a monitor process that supervises it
//
// Everything that starts a container from an image goes through here: `gantry run`
// (cli/cmd_run.cpp only registers flags and calls execute), `gantry bundle` (write_bundle builds
// the same spec), `gantry build`'s RUN steps, and the Slurm plugin through the `gantry run` it
// executes. The OCI runtime CLI (ocirt/) does not: it runs a bundle's spec through runtime/
// directly. The runtime below (runtime/) knows nothing of stores or GPUs: it executes the spec
// prepare made.
#pragma once

#include "engine/networks.hpp"
#include "engine/run_request.hpp"
#include "fuse/tree.hpp"
#include "kernel_cache/caches.hpp"
#include "oci/runtime_spec.hpp"
#include "rootfs/run_view.hpp"
#include "runspec/builder.hpp"
#include "runtime/launcher.hpp"
#include "runtime/resources.hpp"
#include "sqsh/image.hpp"
#include "store/scratch.hpp"
#include "store/store.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace gantry::engine {

// Who starts the container: looked up once per process (before the command line is parsed, for
// the early start) and passed to prepare.
struct Caller {
    bool real_root = false; // the host's root: full id mapping, owners kept
    uid_t uid = 0;
    gid_t gid = 0;
    // The user's id maps with subordinate ids when /etc/subuid and newuidmap allow them
    // (userns::unprivileged_maps); looked up when first needed. Unused for real root.
    std::optional<std::array<std::vector<oci::IdMapping>, 2>> subid_maps;

    static Caller current();
    // The maps a run with --userns USERNS uses (empty for real root).
    std::array<std::vector<oci::IdMapping>, 2> id_maps(const std::string& userns);
};

// The one decision whether a run may begin its container process early (runtime::EarlyStart):
// rootless with a single-id map, in the foreground, without --init or cgroup limits.
bool may_start_early(const RunRequest& request, Caller& caller);
// Whether REQUEST sets any cgroup limit (--memory, --cpus, --cpuset-cpus, ...).
bool asks_for_limits(const RunRequest& request);
// The RunRequest fields that decision and the early start's namespaces depend on, by their flags:
// a command line that names none of them runs with their defaults, so the early start can begin
// before the line is parsed (cli's prestart).
// `gantry run` registers these options under the same names, so the scan and the parser agree.
namespace flags {
inline constexpr const char* kDetach = "-d,--detach";
inline constexpr const char* kInit = "--init";
inline constexpr const char* kNetwork = "--network,--net";
inline constexpr const char* kUserns = "--userns";
inline constexpr const char* kMemory = "-m,--memory";
inline constexpr const char* kCpus = "--cpus";
inline constexpr const char* kPidsLimit = "--pids-limit";
inline constexpr const char* kMemorySwap = "--memory-swap";
inline constexpr const char* kMemoryReservation = "--memory-reservation";
inline constexpr const char* kMemorySwappiness = "--memory-swappiness";
inline constexpr const char* kCpuShares = "-c,--cpu-shares";
inline constexpr const char* kCpusetCpus = "--cpuset-cpus";
inline constexpr const char* kCpusetMems = "--cpuset-mems";
inline constexpr const char* kCpuRtPeriod = "--cpu-rt-period";
inline constexpr const char* kCpuRtRuntime = "--cpu-rt-runtime";
inline constexpr const char* kIpc = "--ipc";
inline constexpr const char* kPid = "--pid";
inline constexpr const char* kUts = "--uts";
inline constexpr const char* kGpuNuma = "--gpu-numa";
inline constexpr const char* kGpuMemory = "--gpu-memory";
inline constexpr const char* kGpuMemoryReservation = "--gpu-memory-reservation";
// -a leaves streams out: the container must start after they were pointed at /dev/null
inline constexpr const char* kAttach = "-a,--attach";
} // namespace flags
inline constexpr std::array<std::string_view, 22> kStartPathFlags = {flags::kDetach,
                                                                     flags::kInit,
                                                                     flags::kNetwork,
                                                                     flags::kUserns,
                                                                     flags::kMemory,
                                                                     flags::kCpus,
                                                                     flags::kPidsLimit,
                                                                     flags::kIpc,
                                                                     flags::kPid,
                                                                     flags::kAttach,
                                                                     flags::kMemorySwap,
                                                                     flags::kMemoryReservation,
                                                                     flags::kMemorySwappiness,
                                                                     flags::kCpuShares,
                                                                     flags::kCpusetCpus,
                                                                     flags::kCpusetMems,
                                                                     flags::kUts,
                                                                     flags::kGpuNuma,
                                                                     flags::kGpuMemory,
                                                                     flags::kGpuMemoryReservation,
                                                                     flags::kCpuRtPeriod,
                                                                     flags::kCpuRtRuntime};
// Begins the early start for REQUEST, whose flags check_flags put in OPTIONS (null when it may
// not or cannot start early).
std::unique_ptr<runtime::EarlyStart>
start_early(const RunRequest& request, const runspec::RunOptions& options, Caller& caller);

// Where the writable layer goes and its size limit (Layer::none for --read-only).
struct WritableLayer {
    store::Layer layer = store::Layer::none;
    std::uint64_t size = 0; // memory: the tmpfs size limit (0: the kernel's default)
};

// A container ready to run: everything a user could get wrong has been checked.
struct Prepared {
    RunRequest request;
    Caller caller;
    store::Store* store = nullptr;
    rootfs::RunView view;              // the image's config and passwd
    std::shared_ptr<sqsh::Image> sqsh; // a squashfs file's image (sqsh:FILE), else null
    std::shared_ptr<fuse::Tree> lazy;  // a lazily pulled image's tree (--pull lazy), else null
    // `gantry apptainer` of a sandbox directory: its absolute path (apply_apptainer_sandbox)
    std::string sandbox;
    runspec::RunOptions options;               // the request, parsed
    ContainerNetwork network;                  // its network (engine/networks.hpp)
    oci::RuntimeSpec spec;                     // with GPU and CDI edits
    std::string id;                            // 12 hex digits
    std::map<std::string, std::string> labels; // the image's and the run's (engine/labels.hpp)
    nlohmann::json healthcheck; // its health check, docker's Healthcheck (engine/health.hpp)
    WritableLayer layer;
    std::uint64_t write_warn = 0;
    runtime::Resources resources;
    // taken over by the launch, or cancelled; after the scratch is gone (declared before it)
    std::unique_ptr<runtime::EarlyStart> early;
    std::unique_ptr<store::Scratch> scratch;
    // --kernel-cache: the key's cache this container uses (engine/kernel_caches.hpp), else null;
    // finished (a writer's additions published) when the container ends
    std::shared_ptr<kernel_cache::Attachment> kernel_cache;
};

// EARLY: an early start begun before the command line was parsed (or null); prepare keeps it
// only when may_start_early agrees, and begins one itself when it may.
Prepared prepare(store::Store& store, RunRequest request, Caller caller,
                 std::unique_ptr<runtime::EarlyStart> early = nullptr);

// A kept container (`gantry start`, restart) made ready to run again from what create or run -d
// prepared (engine/kept_preparation.hpp), without preparing it again: REQUEST (its kept request,
// with start's streams, under the container's own id) with KEPT's spec and labels, its image's
// root opened again and its writable layer taken over. Nothing is read of the image, no spec is
// built, no GPU discovered.
struct KeptPreparation;
Prepared prepare_again(store::Store& store, RunRequest request, Caller caller,
                       KeptPreparation kept);

struct Outcome {
    int status = 0;          // the workload's exit status (128+N for signal N); 0 when detached
    std::string detached_id; // -d: the container's id, once its workload runs
};
Outcome run(Prepared& prepared);

// prepare then run.
Outcome execute(store::Store& store, RunRequest request, Caller caller,
                std::unique_ptr<runtime::EarlyStart> early = nullptr);

// An OCI runtime bundle in DIR (config.json + rootfs/) that runc and crun run: the spec of a run
// of REQUEST (image, command, env, workdir, user, volumes, ulimits, shm_size, and the GPUs as
// the vendor's CDI edits, after its compatibility policy: gpu_vendors::add_gpus), without the
// device binds those runtimes make themselves and, for root, without a user namespace. DIR must
// be new or empty; it is written beside it and renamed into place.
void write_bundle(store::Store& store, const RunRequest& request, const std::string& dir,
                  Caller caller);

} // namespace gantry::engine
