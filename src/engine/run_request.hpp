// engine::RunRequest: everything one container run asks for, in docker's words. `gantry run` binds
// its flags straight to these fields; `gantry bundle`, and the Slurm plugin, the OCI runtime CLI
// and `gantry build`'s RUN steps to come, fill the same struct. Nothing in it is checked yet:
// engine::prepare validates every field a user wrote, naming the flag in its error.
#pragma once

#include "gpu_vendors/roots.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gantry::engine {

struct RunRequest {
    std::string image; // IMAGE: a name, an ID or a digest
    // --image-store: read-only shared stores searched when the local store lacks IMAGE (with
    // GANTRY_IMAGE_STORES and the config file's, sqsh/shared.hpp)
    std::vector<std::string> image_stores;
    std::vector<std::string> command; // COMMAND [ARG...] (empty: the image's CMD)
    // --pull: missing, always, newer, never (engine/pull_policy.hpp; "": the config file's
    // pull_policy, else missing), or lazy (an eStargz image started from the registry,
    // lazy/image.hpp; its record reused when `pull --lazy` made one)
    std::string pull;
    // --platform OS/ARCH[/VARIANT]: the image's platform; a stored image of another one is
    // pulled again for it (docker's behaviour, --pull missing), else refused. A platform this
    // host does not run natively runs through its binfmt_misc handler (binfmt/handlers.hpp).
    std::string platform;
    // --no-unpack: a squashfs file FUSE cannot serve (/dev/fuse not usable) fails instead of
    // being unpacked into the store once (engine/unpack_fallback.hpp)
    bool no_unpack = false;
    // gantry build's RUN steps: the step's changes are the overlay's upper directory, so where
    // the kernel refuses the overlay the run fails instead of falling back to a flattened copy
    // (whose writes no layer commit would see). No flag sets it.
    bool overlay_required = false;
    std::optional<bool> tls_verify;        // --tls-verify, for the pulls of --pull
    std::optional<std::string> entrypoint; // --entrypoint ("" clears the image's)
    // `gantry test`: the image's /.singularity.d/test is the command (COMMAND its arguments),
    // run as `apptainer test` runs it (engine/prepare.cpp, sif::action_entrypoint)
    bool apptainer_test = false;
    // `gantry apptainer` (apptainer/action.hpp): the action of Apptainer's it runs, "run",
    // "exec", "shell" or "start" (instance start), as Apptainer's action scripts run them
    // (apply_apptainer); "" for every other door
    std::string apptainer_action;
    // `gantry apptainer --writable` of a sandbox directory (apptainer/sandbox.hpp): the
    // directory itself is the root, written in place (without it a sandbox is the lower layer
    // of an overlay, as a SIF's partition is)
    bool apptainer_writable = false;
    // `gantry apptainer --overlay`: absolute directories, "DIR" the writable one (at most one),
    // "DIR:ro" read-only ones, in the flags' order (engine/apptainer_overlay.hpp)
    std::vector<std::string> apptainer_overlays;

    // The process
    std::vector<std::string> env;       // -e K=V, or K to take the host's value
    std::vector<std::string> env_files; // --env-file
    // The caller's APPTAINERENV_X / SINGULARITYENV_X variables (apptainer_env_from), applied to a
    // SIF file's run as Apptainer applies them (engine/apptainer_run.hpp); the CLI fills it,
    // never the Engine API service (its own environment is not a client's).
    std::vector<std::string> apptainer_env;
    // `gantry apptainer`: the caller's environment Apptainer passes in ("K=V"), under what the
    // image sets (its Env and environment scripts), as Apptainer's SetContainerEnv orders them
    std::vector<std::string> apptainer_host_env;
    std::string workdir, user, hostname; // -w, -u UID[:GID] or NAME, --hostname
    // --group-add GID: supplementary groups of the process, numeric (a name is refused)
    std::vector<std::string> group_add;
    bool tty = false;         // -t
    bool interactive = false; // -i (stdin is always passed)
    bool init = false;        // --init: a tiny PID 1 that reaps and forwards

    // The filesystem
    std::vector<std::string> volumes;      // -v SRC:DST[:ro|rw], or -v DST (an anonymous volume)
    std::vector<std::string> volumes_from; // --volumes-from CONTAINER[:ro|rw]
    // --restart: no, on-failure[:N], always, unless-stopped (engine/restart_policy.hpp)
    std::string restart = "no";
    // --image-volume: what the image's VOLUME paths get: bind (an anonymous volume each,
    // docker's and podman's default), tmpfs, or ignore (engine/volumes.hpp)
    std::string image_volume = "bind";
    // the anonymous volumes made for this container (engine/volumes.hpp fills it; kept with
    // the request so that a later start mounts the same ones)
    std::vector<std::string> anonymous_volumes;
    std::vector<std::string> mounts; // --mount type=bind,src=...,dst=...[,readonly]
    std::vector<std::string> tmpfs;  // --tmpfs DST[:options]
    bool read_only = false;          // --read-only
    // --writable-layer: memory[:SIZE], disk or auto ("": GANTRY_WRITABLE_LAYER, else auto)
    std::string writable_layer;
    std::string write_warn = "1GiB"; // --write-warn: report writes above this size
    // --kernel-cache: auto, off or an absolute DIR ("": the io.gantry.kernel-cache label, else
    // the config file's kernel_cache, else off; engine/kernel_caches.hpp)
    std::string kernel_cache;

    // Isolation and limits
    // --network: host, none, bridge (docker's default, the Engine API's: a namespace of its
    // own joined to the outside by pasta; engine/networks.hpp) or container:NAME. "": the config
    // file's network, else host (prepare resolves it: configured_network), or a user-defined
    // network's name or id (network/user_network.hpp)
    std::string network;
    // --network-alias: names the container answers to on each of its user networks (podman's)
    std::vector<std::string> network_aliases;
    // further user networks, after --network's (podman's repeated --network, the Engine API's
    // EndpointsConfig beyond NetworkMode's, `network connect` of a created container): the
    // container's eth1, eth2, ... in this order
    std::vector<std::string> more_networks;
    // NETWORK=ALIAS: a name on that network only (the Engine API's EndpointsConfig.*.Aliases,
    // `network connect --alias`)
    std::vector<std::string> endpoint_aliases;
    // --ip, --ip6: the container's static addresses on its (first) user network
    std::string ip, ip6;
    // NETWORK=ADDRESS: a static address (IPv4 or IPv6, by its form) on that network (the Engine
    // API's EndpointsConfig.*.IPAMConfig, `network connect --ip/--ip6`)
    std::vector<std::string> endpoint_ips;
    std::string ipc = "private";          // private (or shareable) or host
    std::string uts;                      // --uts: "" (its own) or host (the host's)
    std::string pid = "private";          // --pid: private or host (the host's PID namespace)
    std::string userns = "auto";          // auto, single or subid
    std::string shm_size;                 // --shm-size ("": 64 MiB)
    std::string memory, cpus, pids_limit; // cgroup limits, as given
    // --memory-swap, --memory-reservation, --memory-swappiness, --cpu-shares, --cpuset-cpus,
    // --cpuset-mems: docker's further cgroup limits, as given ("": not set)
    std::string memory_swap, memory_reservation, memory_swappiness, cpu_shares, cpuset_cpus,
        cpuset_mems;
    // --cpu-rt-period, --cpu-rt-runtime: cgroup v1's realtime budget, microseconds as given
    std::string cpu_rt_period, cpu_rt_runtime;
    std::vector<std::string> ulimits;      // --ulimit NAME=SOFT[:HARD]
    std::vector<std::string> security_opt; // seccomp=unconfined, no-new-privileges
    // --fake-root: chown/setuid/setgroups and device mknod succeed without doing anything (a
    // seccomp filter, Charliecloud's seccomp mode), for package managers under one mapped id
    bool fake_root = false;
    std::vector<std::string> cap_add, cap_drop;
    // -p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO] (bridge: forwarded; host: only a port published
    // as itself), -P (every exposed port on a free host port), --expose PORT[/PROTO], --add-host
    // NAME:IP (IP may be host-gateway)
    std::vector<std::string> publish;
    bool publish_all = false;
    std::vector<std::string> expose;
    std::vector<std::string> add_hosts;

    // GPUs and devices
    std::optional<std::string> gpus; // --gpus (docker's syntax); unset: the image's contract
    gpu_vendors::Roots gpu_roots;    // --driver-root, --dev-root, ...: where the GPU host is
    std::optional<std::string>
        gpu_vendor; // --gpu-vendor NAME (a registered vendor); unset: from the host
    // Apptainer's GPU flags by name ("--nv": true), each a vendor's (Backend::apptainer_flag):
    // fold_apptainer_gpu_flags.
    std::map<std::string, bool> apptainer_gpu_flags;
    std::string runtime; // --runtime: only nvidia (nvidia-docker's line) is accepted
    // --device: CDI names (vendor.com/class=name) and host devices (/dev/X[:/dev/Y[:rwm]])
    std::vector<std::string> devices;
    std::vector<std::string> cdi_dirs; // --cdi-spec-dir, after /etc/cdi and /var/run/cdi
    bool no_require = false;           // --no-require: the doctor's failures only warn
    // GPU limits and placement (engine/gpu_share.hpp), as given ("": not given): --gpu-numa
    // auto|off, --gpu-memory SIZE or GPU=SIZE,..., --gpu-memory-reservation, --gpu-compute
    // PERCENT, --mps[=PIPE_DIR] ("true" without a directory: CLI11's flag value)
    std::string gpu_numa, gpu_memory, gpu_memory_reservation, gpu_compute, mps;

    // The container's life
    std::string name; // --name: recorded so exec, ps, stop and rm find it
    std::vector<std::string> labels, label_files; // -l/--label KEY=VALUE, --label-file
    bool detach = false; // -d: a monitor process supervises it; run returns once it started
    bool rm = false;     // --rm (what a foreground run does anyway; -d --rm removes at exit)
    // --log-driver: what keeps a detached container's output: "" or json-file (gantry's output
    // file, container_log/output.hpp), local (the same file: docker's other driver that
    // `logs` reads), none (no log kept: its output goes to /dev/null)
    std::string log_driver;
    // --pidfile: the container's first process's host pid, written (atomically) once it runs, so
    // a caller can join its namespaces (the Slurm plugin, docs/slurm.md)
    std::string pidfile;
    // docker's scripting flags (engine/docker_flags.hpp): -a/--attach STDIN|STDOUT|STDERR,
    // --sig-proxy, --cidfile, --stop-signal, --stop-timeout (-1: unset), --health-*
    std::vector<std::string> attach;
    bool sig_proxy = true;
    std::string cidfile;
    std::string stop_signal;
    int stop_timeout = -1;
    std::string health_cmd, health_interval, health_timeout, health_start_period;
    int health_retries = 0;
    bool no_healthcheck = false;
    // the Engine API's Config.Healthcheck.Test as docker gives it (["CMD", ...],
    // ["CMD-SHELL", "..."], ["NONE"]); --health-cmd is ["CMD-SHELL", ...]
    std::vector<std::string> health_test;

    // `gantry start` (engine/lifecycle.hpp): the recorded container this run starts again, by
    // its id: its record, name and writable layer are taken over, not made. No flag sets it.
    std::string container_id;
};

// Whether a run of R is recorded (`ps`, `exec` and `stop` find it): something names it (--name,
// a label or a --cidfile a script finds it by), it is detached, or it is a recorded container
// started again. Every other foreground run is journalled only.
inline bool recorded(const RunRequest& r) {
    return !r.name.empty() || r.detach || !r.labels.empty() || !r.label_files.empty() ||
           !r.cidfile.empty() || !r.container_id.empty();
}

} // namespace gantry::engine
