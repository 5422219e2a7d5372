// `gantry run`: its flags, bound straight to an engine::RunRequest, and one call into the engine
// (engine/engine.hpp). prestart_run begins the early start before the line is parsed.
#include "cli/context.hpp"
#include "cli/host_root_flags.hpp"
#include "cli/run_flags.hpp"
#include "engine/apptainer_run.hpp"
#include "engine/engine.hpp"
#include "engine/options.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "sqsh/image_ref.hpp"
#include "util/error.hpp"

#include <cstdio>
#include <unistd.h>

namespace gantry::cli {

void prestart_run(Context& ctx) {
    // Root takes the plain path (the launcher writes its identity map from outside), and so
    // does a line that may name an option the early start depends on; whatever the line turns
    // out to say, engine::prepare checks the parsed request (engine::may_start_early) and
    // cancels the early start when it may not keep it.
    if (::geteuid() == 0) return;
    LazyOptions line(nullptr, ctx.args); // only scans the line (with --help: names all)
    for (auto names : engine::kStartPathFlags)
        if (line.may_name(names)) return;
    auto& caller = ctx.caller.emplace(engine::Caller::current());
    engine::RunRequest defaults;
    runspec::RunOptions options;
    engine::check_flags(defaults, options);
    ctx.early_start = engine::start_early(defaults, options, caller);
}

RunFlags add_run_flags(CLI::App* cmd, Context& ctx, const std::shared_ptr<engine::RunRequest>& f,
                       bool create, bool test) {
    RunFlags flags;
    auto entrypoint = std::make_shared<std::string>();
    // Only the options this command line names are built (LazyOptions), in --help's groups.
    LazyOptions o(cmd, ctx.args);
    flags.rest =
        test ? o.operands("IMAGE", "The image, then the test script's arguments", "IMAGE [ARG...]")
             : o.operands("IMAGE", "The image, then the command and its arguments",
                          "IMAGE [COMMAND [ARG...]]");
    const char* proc = "Process";
    const char* files = "Filesystem";
    const char* iso = "Isolation and limits";
    const char* gpu = "GPUs and devices";
    o.list(proc, "-e,--env", f->env,
           "Set an environment variable (K=V, or K to copy from the host)");
    o.list(proc, "--env-file", f->env_files, "Read environment variables from a file");
    o.option(proc, "-w,--workdir", f->workdir, "Working directory inside the container");
    o.option(proc, "-u,--user", f->user, "UID[:GID] or user name to run as");
    o.option(proc, "--hostname", f->hostname, "Container host name");
    o.list(files, "-v,--volume", f->volumes,
           "Bind mount SRC:DST[:ro|rw]; SRC a host path, or a named volume's name (made on "
           "first use, empty: the image's files at DST are not copied in); -v DST alone: an "
           "anonymous volume");
    o.list(files, "--volumes-from", f->volumes_from,
           "Mount the volumes and binds of another container (CONTAINER[:ro|rw])");
    o.option(files, "--image-volume", f->image_volume,
             "What the image's VOLUME paths get: bind (an anonymous volume each, the default), "
             "tmpfs or ignore");
    o.list(files, "--mount", f->mounts,
           "docker's --mount type=bind|tmpfs,source=,target=[,readonly][,bind-propagation=]"
           "[,tmpfs-size=,tmpfs-mode=] (type=volume,source=NAME: a named volume)");
    o.list(files, "--tmpfs", f->tmpfs, "Mount a tmpfs at DST[:options]");
    o.option(proc, "--restart", f->restart,
             "Restart policy of a detached container: no (default), on-failure[:N], always, "
             "unless-stopped");
    // repeated (podman's): the first is the container's network, the others more user networks
    auto networks = std::make_shared<std::vector<std::string>>();
    if (auto* n = o.list(iso, engine::flags::kNetwork, *networks,
                         "host (default: the host's network), bridge (its own network namespace, "
                         "outbound traffic and published ports through pasta; docker's default), "
                         "none, or container:NAME (a running container's network), or a user "
                         "network's NAME (gantry network create); repeated: several user "
                         "networks, eth0, eth1, ... in this order"))
        n->each([f, networks](const std::string& v) {
            (f->network.empty() ? f->network : f->more_networks.emplace_back()) = v;
        });
    o.list(iso, "--network-alias", f->network_aliases,
           "A name the container answers to on each of its user networks (repeatable)");
    o.option(iso, "--ip", f->ip,
             "Its IPv4 address on its user network (the first --network), of the subnet");
    o.option(iso, "--ip6", f->ip6,
             "Its IPv6 address on its user network (the first --network, created with --ipv6)");
    // CLI11 writes the value into *entrypoint while parsing, after this function returned:
    // the option's callback holds it (it was freed here, a heap use-after-free, make test-asan)
    if (auto* e = o.option(proc, "--entrypoint", *entrypoint, "Override the image's ENTRYPOINT"))
        e->each([f, entrypoint](const std::string& v) { f->entrypoint = v; });
    o.list(iso, "--security-opt", f->security_opt, "seccomp=unconfined to disable seccomp");
    // --kernel-cache alone is auto (CLI11 gives a bare flag "true"), --kernel-cache=VALUE VALUE
    if (o.may_name("--kernel-cache")) {
        auto value = std::make_shared<std::string>();
        cmd->add_flag("--kernel-cache", *value,
                      "Keep the JIT, compile and autotuning caches (the GPU driver's, Triton, "
                      "TorchInductor, vLLM, JAX, TunableOp, ccache, ...) per image, GPU, driver "
                      "and user across starts: --kernel-cache[=auto|off|DIR] "
                      "(docs/kernel-caches.md; default: the label io.gantry.kernel-cache, else "
                      "the config file's kernel_cache, else off)")
            ->group(files)
            ->each(
                [f, value](const std::string& v) { f->kernel_cache = v == "true" ? "auto" : v; });
    }
    o.option(files, "--write-warn", f->write_warn,
             "Warn when a run writes more than this into the container layer (default 1GiB)");
    o.option(iso, engine::flags::kUserns, f->userns,
             "auto (subordinate ids from /etc/subuid when newuidmap allows, else your id only), "
             "single, subid, or keep-id (your own uid and gid inside, not root)");
    o.option(iso, engine::flags::kMemory, f->memory,
             "Memory limit (e.g. 512m, 2g) through the memory cgroup");
    o.option(iso, engine::flags::kMemorySwap, f->memory_swap,
             "Limit of memory and swap together (needs --memory; -1: unlimited swap; default: "
             "twice --memory)");
    o.option(iso, engine::flags::kMemoryReservation, f->memory_reservation,
             "Soft memory limit (memory.low on cgroup v2)");
    o.option(iso, engine::flags::kMemorySwappiness, f->memory_swappiness,
             "Swappiness 0-100 (cgroup v1 only: cgroup v2 has none)");
    o.option(iso, engine::flags::kCpus, f->cpus, "CPU limit (e.g. 1.5) through the cpu cgroup");
    o.option(iso, engine::flags::kCpuShares, f->cpu_shares,
             "Relative CPU weight (default 1024; cpu.weight on cgroup v2)");
    o.option(iso, engine::flags::kCpusetCpus, f->cpuset_cpus,
             "CPUs the container may run on (e.g. 0-3,8)");
    o.option(iso, engine::flags::kCpusetMems, f->cpuset_mems,
             "NUMA memory nodes the container may allocate on (e.g. 0,1)");
    o.option(iso, engine::flags::kCpuRtPeriod, f->cpu_rt_period,
             "Realtime period in microseconds (cgroup v1's cpu.rt_period_us)");
    o.option(iso, engine::flags::kCpuRtRuntime, f->cpu_rt_runtime,
             "Realtime runtime in microseconds of each period (cpu.rt_runtime_us, cgroup v1 only; "
             "the cgroups above get the budget it needs)");
    o.option(iso, engine::flags::kPidsLimit, f->pids_limit,
             "Process limit (-1: unlimited) through the pids cgroup");
    o.list(iso, "--ulimit", f->ulimits,
           "Resource limit NAME=SOFT[:HARD] (nofile, memlock, stack, core, nproc, ...; -1: "
           "unlimited); raising a hard limit needs root");
    o.list(iso, "--cap-add", f->cap_add,
           "Add a capability (SYS_PTRACE, IPC_LOCK, ..., ALL), in the container's user namespace; "
           "the seccomp profile then allows its syscalls, as docker's");
    o.list(iso, "--cap-drop", f->cap_drop, "Drop a capability of the default set (or ALL)");
    o.option(iso, engine::flags::kIpc, f->ipc,
             "private (default: own IPC namespace and /dev/shm) or host (the host's, as NGC "
             "images recommend for PyTorch)");
    o.option(iso, engine::flags::kUts, f->uts,
             "host: the host's UTS namespace (its hostname); default: the container's own");
    o.option(iso, engine::flags::kPid, f->pid,
             "private (default: own PID namespace and /proc) or host (the host's: the Slurm "
             "plugin's tasks join the container from the host's)");
    o.option(iso, "--shm-size", f->shm_size, "Size of the private /dev/shm (default 64m)");
    o.list(iso, "-p,--publish", f->publish,
           "Publish a container port on the host: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp], "
           "ranges (8000-8002:80-82); with --network bridge (in the host's network only a port "
           "published as itself)");
    o.flag(iso, "-P,--publish-all", f->publish_all,
           "Publish every port the image exposes (and --expose) on a free host port "
           "(--network bridge)");
    o.list(iso, "--expose", f->expose, "Expose a port or range (PORT[/PROTO]) for -P");
    o.list(iso, "--add-host", f->add_hosts,
           "Add NAME:IP to /etc/hosts (IP may be host-gateway: the host as the container "
           "reaches it)");
    o.option(gpu, "--gpus", f->gpus,
             "GPUs to add: all, N, device=0,2, GPU- (and MIG-) UUIDs (docker syntax)");
    add_host_root_flags(o, gpu, f->gpu_roots);
    o.option(gpu, "--gpu-vendor", f->gpu_vendor, gpu_vendors::vendor_flag_help());
    for (const gpu_vendors::Backend* b : gpu_vendors::backends())
        if (const std::string flag(b->apptainer_flag()); !flag.empty())
            o.flag(gpu, flag, f->apptainer_gpu_flags[flag],
                   "Apptainer's " + flag + ": --gpus all --gpu-vendor " + std::string(b->name()));
    o.option(gpu, "--runtime", f->runtime,
             "nvidia is accepted (nvidia-docker's): GPUs follow --gpus or the image's "
             "NVIDIA_VISIBLE_DEVICES either way");
    o.list(gpu, "--device", f->devices,
           "CDI device vendor.com/class=name, or a host device /dev/X[:/dev/Y] (a directory "
           "such as /dev/infiniband gives all its devices)");
    o.list(gpu, "--cdi-spec-dir", f->cdi_dirs,
           "Also read CDI specs from this directory (after /etc/cdi and /var/run/cdi)");
    o.option(gpu, engine::flags::kGpuNuma, f->gpu_numa,
             "auto: pin the container's CPUs and memory to its GPUs' NUMA nodes (their "
             "local_cpulist and numa_node, within the CPUs you may use); off (the default)");
    o.option(gpu, engine::flags::kGpuMemory, f->gpu_memory,
             "GPU memory limit for each GPU (8g) or per GPU (0=8g,1=4g, the container's "
             "numbering): the cgroup dmem controller, else an MPS client's limit, else refused");
    o.option(gpu, engine::flags::kGpuMemoryReservation, f->gpu_memory_reservation,
             "GPU memory protected for the container (dmem.min; SIZE or 0=SIZE,...): dmem only");
    o.option(gpu, "--gpu-compute", f->gpu_compute,
             "Percentage of each GPU's compute (1-100) through the host's MPS control daemon "
             "(CUDA_MPS_ACTIVE_THREAD_PERCENTAGE)");
    if (o.may_name("--mps"))
        cmd->add_flag("--mps", f->mps, // CLI11: "true" without =DIR
                      "Be a client of the host's MPS control daemon: --mps=PIPE_DIR, else "
                      "CUDA_MPS_PIPE_DIRECTORY, else /tmp/nvidia-mps (its pipe and log "
                      "directories and /dev/shm shared)")
            ->group(gpu);
    o.flag(gpu, "--no-require", f->no_require,
           "Run even when the doctor's checks before launch fail (the image's driver "
           "requirements, device code for other GPUs, CPU features): warn instead");
    if (!create)
        o.flag(proc, engine::flags::kDetach, f->detach,
               "Run in the background; print the container ID");
    o.option(proc, "--name", f->name, "Name the container so exec, ps, stop and rm can find it");
    o.list(proc, "-l,--label", f->labels,
           "Set a label KEY=VALUE on the container (ps --filter label=..., inspect)");
    o.list(proc, "--label-file", f->label_files, "Read labels from a file of KEY=VALUE lines");
    o.list(proc, engine::flags::kAttach, f->attach,
           "Attach STDIN, STDOUT or STDERR (repeat; default all three); one left out is "
           "/dev/null to the container");
    o.flag(proc, "--sig-proxy", f->sig_proxy,
           "Pass the signals gantry receives on to the container (default true; "
           "--sig-proxy=false: the container goes on)");
    o.option(proc, "--cidfile", f->cidfile,
             "Write the container ID to this file once it runs (refused if the file exists)");
    o.option(proc, "--stop-signal", f->stop_signal,
             "The signal `gantry stop` sends first (default SIGTERM)");
    o.option(proc, "--stop-timeout", f->stop_timeout,
             "Seconds `gantry stop` waits before SIGKILL (default 10)");
    const char* health = "Health checks (gantry runs none)";
    o.option(health, "--health-cmd", f->health_cmd, "Refused: gantry runs no health checks");
    o.option(health, "--health-interval", f->health_interval,
             "A duration (30s), checked; then refused: gantry runs no health checks");
    o.option(health, "--health-timeout", f->health_timeout,
             "A duration (30s), checked; then refused: gantry runs no health checks");
    o.option(health, "--health-start-period", f->health_start_period,
             "A duration (30s), checked; then refused: gantry runs no health checks");
    o.option(health, "--health-retries", f->health_retries,
             "A count, checked; then refused: gantry runs no health checks");
    o.flag(health, "--no-healthcheck", f->no_healthcheck,
           "Accepted: gantry runs no health checks, the image's HEALTHCHECK included");
    o.option(proc, "--pidfile", f->pidfile,
             "Write the host pid of the container's first process to this file once it runs");
    o.list(proc, "--group-add", f->group_add,
           "Add a supplementary group to the process, by number or by a name of the image's "
           "/etc/group (repeat; rootless: needs subordinate group ids)");
    o.option(proc, "--log-driver", f->log_driver,
             "What keeps a detached container's output: json-file (the default) or local "
             "(both gantry's output file, read by `gantry logs`), none (nothing kept)");
    o.flag(proc, "--rm", f->rm,
           "Remove the container at exit (the default, but for -d, whose container stays for "
           "`gantry logs` and `ps -a` until `gantry rm`)");
    o.flag(proc, "-i,--interactive", f->interactive, "Keep stdin open (stdin is always passed)");
    o.flag(proc, "-t,--tty", f->tty, "Allocate a terminal");
    o.flag(proc, engine::flags::kInit, f->init,
           "Run a tiny init as PID 1 that reaps zombies and forwards signals");
    o.flag(files, "--read-only", f->read_only, "Mount the root filesystem read-only");
    o.flag(proc, "--fake-root", f->fake_root,
           "Make chown, setuid/setgid/setgroups and device mknod succeed without doing anything "
           "(a seccomp filter), so package managers run as an unprivileged user without "
           "subordinate ids");
    o.option(files, "--writable-layer", f->writable_layer,
             "Where the container's writes go: memory[:SIZE] (default; a private tmpfs freed at "
             "exit, by default up to half the RAM), disk (the store), or auto; the default comes "
             "from GANTRY_WRITABLE_LAYER");
    o.option(files, "--pull", f->pull,
             "missing (default: pull the image when the store lacks it), always, newer (pull, "
             "but run the stored image when the registry cannot be reached), never, or lazy (an "
             "eStargz image started from its registry, file contents fetched on first read; "
             "docs/lazy-pull.md); the config file's pull_policy sets the default");
    o.option(files, "--platform", f->platform,
             "OS/ARCH[/VARIANT] of the image to run (linux/arm64): a stored image of another "
             "platform is pulled again for it (with --pull missing); a platform the host does "
             "not run natively runs under its binfmt_misc emulator (qemu-user-static)");
    o.flag(files, "--no-unpack", f->no_unpack,
           "With a squashfs image file: fail where /dev/fuse is not usable, instead of unpacking "
           "the image into the store once and running it from there");
    flags.tls_opt = o.flag(files, "--tls-verify", *flags.tls,
                           "When the run pulls: verify the registry's TLS certificate "
                           "(--tls-verify=false: also allow plain http)");
    return flags;
}

namespace {

// `run`, and `test` (TEST): Apptainer's `apptainer test`, a run of the image's
// /.singularity.d/test with run's options (engine/apptainer_run.hpp)
void register_run_verb(CLI::App& app, Context& ctx, bool test) {
    auto f = std::make_shared<engine::RunRequest>();
    auto* cmd = test ? app.add_subcommand("test", "Run an Apptainer image's test script "
                                                  "(/.singularity.d/test, a definition "
                                                  "file's %test), as `apptainer test`")
                     : app.add_subcommand("run", "Run a command in a new container from an image");
    auto flags = add_run_flags(cmd, ctx, f, false, test);
    auto rest = flags.rest;
    auto tls = flags.tls;
    auto* tls_opt = flags.tls_opt;
    cmd->callback([&ctx, f, rest, tls, tls_opt, test] {
        if (tls_opt && tls_opt->count()) f->tls_verify = *tls;
        ctx.action = [&ctx, f, rest = *rest, test] {
            try {
                if (rest.empty())
                    throw Error(Errc::usage, std::string(test ? "test" : "run") + " needs an image",
                                test ? "gantry test IMAGE [ARG...]"
                                     : "gantry run IMAGE [COMMAND...]");
                if (test && f->detach)
                    throw Error(Errc::usage,
                                "gantry test runs the test in the foreground: -d "
                                "would not wait for its result",
                                "drop -d");
                f->apptainer_test = test;
                if (test) f->rm = true; // as a foreground run: nothing is kept
                f->image = rest[0];
                f->image_stores = ctx.image_stores;
                f->command.assign(rest.begin() + 1, rest.end());
                engine::fold_apptainer_gpu_flags(*f);
                f->apptainer_env = engine::apptainer_env_from(environ);
                auto caller = ctx.caller ? std::move(*ctx.caller) : engine::Caller::current();
                auto out = engine::execute(ctx.store(), std::move(*f), std::move(caller),
                                           std::move(ctx.early_start));
                if (!out.detached_id.empty()) std::printf("%s\n", out.detached_id.c_str());
                return out.status;
            } catch (const Error& e) {
                if (static_cast<int>(e.code()) >= 125) throw;
                // the site's policy refused the image file (FILE.sig): 11, as a refused pull
                if (e.code() == Errc::policy) throw;
                // a damaged squashfs file is the file's fault, not the run's: 4, as inspect says
                if (e.code() == Errc::invalid && !rest.empty() && sqsh::file_of(rest[0])) throw;
                throw Error(e.code() == Errc::usage ? Errc::usage : Errc::run_failed, e.message(),
                            e.hint());
            }
        };
    });
}

} // namespace

void register_run(CLI::App& app, Context& ctx) {
    register_run_verb(app, ctx, false);
}

void register_test(CLI::App& app, Context& ctx) {
    register_run_verb(app, ctx, true);
}

} // namespace gantry::cli
