#include "engine/options.hpp"

#include "engine/docker_flags.hpp"
#include "engine/gpu_share.hpp"
#include "engine/restart_policy.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "network/mode.hpp"
#include "runspec/mount_flag.hpp"
#include "runtime/caller_cpuset.hpp"
#include "runtime/resources.hpp"
#include "runtime/rt_budget.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/text.hpp"
#include "util/units.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <unistd.h>

namespace gantry::engine {

void fold_apptainer_gpu_flags(RunRequest& r) {
    std::vector<std::string> given;
    for (const auto& [name, on] : r.apptainer_gpu_flags)
        if (on) given.push_back(name);
    if (given.empty()) return;
    if (given.size() > 1)
        throw Error(Errc::usage, text::join(given, " and ") + " ask for two vendors' GPUs at once",
                    "give one of them (or --gpus with --gpu-vendor)");
    const std::string& flag = given.front();
    std::string vendor;
    for (const gpu_vendors::Backend* b : gpu_vendors::backends())
        if (b->apptainer_flag() == flag) vendor = b->name();
    if (vendor.empty())
        throw Error(Errc::usage, flag + " is not a GPU vendor's flag",
                    "use --gpus all with --gpu-vendor");
    if (r.gpus && *r.gpus != "all")
        throw Error(Errc::usage, flag + " means --gpus all, and --gpus " + *r.gpus + " is given",
                    "drop " + flag + " (--gpus with --gpu-vendor " + vendor +
                        " says which GPUs), or drop --gpus");
    if (r.gpu_vendor && *r.gpu_vendor != vendor)
        throw Error(Errc::usage,
                    flag + " asks for " + vendor + " GPUs, and --gpu-vendor " + *r.gpu_vendor +
                        " is given",
                    "give one of them");
    r.gpus = "all";
    r.gpu_vendor = vendor;
}

void check_flags(const RunRequest& r, runspec::RunOptions& o) {
    check_docker_flags(r);
    check_gpu_share_flags(r);
    if (!r.log_driver.empty() && r.log_driver != "json-file" && r.log_driver != "local" &&
        r.log_driver != "none")
        throw Error(Errc::usage,
                    "--log-driver " + r.log_driver +
                        ": gantry keeps a detached container's output in its own file, so only "
                        "json-file, local (both that file) and none (no log) are served",
                    "use --log-driver json-file (the default) or none");
    if (auto policy = RestartPolicy::parse(r.restart); policy.any()) {
        if (r.rm)
            throw Error(Errc::usage, "Conflicting options: --restart and --rm",
                        "drop one: a --rm container is removed when it exits");
        if (!r.detach)
            throw Error(Errc::usage,
                        "--restart " + r.restart +
                            ": gantry restarts a detached container (its monitor does, there "
                            "is no daemon); this one would run in the foreground",
                        "run it with -d (follow it with `gantry logs -f`), or start it without "
                        "-a");
    }
    // the namespaces it needs; -p, -P, --expose, --add-host: engine/networks.hpp's plan_network
    // "" (the config file's, which prepare reads): host, the early start's guess
    const auto mode = network::parse_mode(r.network.empty() ? "host" : r.network, "--network");
    o.network_none = mode == network::Mode::none;
    // container: the spec's new one is replaced by the joined one (engine/networks.hpp)
    o.network_private = mode == network::Mode::bridge || mode == network::Mode::container ||
                        mode == network::Mode::user;
    if (r.ipc == "host")
        o.ipc_host = true;
    else if (r.ipc != "private" && r.ipc != "shareable")
        throw Error(Errc::usage, "unsupported --ipc \"" + r.ipc + "\"",
                    r.ipc.starts_with("container:")
                        ? "gantry cannot join another container's IPC namespace; use --ipc host "
                          "for both, or run both programs in one container (gantry exec)"
                        : "use private (the default) or host");
    if (r.uts == "host")
        o.uts_host = true;
    else if (!r.uts.empty())
        throw Error(Errc::usage, "unsupported --uts \"" + r.uts + "\"",
                    "use host (the host's hostname), or leave it out for the container's own");
    if (o.uts_host && !r.hostname.empty())
        throw Error(Errc::usage, "--hostname conflicts with --uts host",
                    "the container shares the host's hostname: drop one of the two");
    if (r.pid == "host")
        o.pid_host = true;
    else if (r.pid != "private")
        throw Error(Errc::usage, "unsupported --pid \"" + r.pid + "\"",
                    "use private (the default) or host");
    if (!r.shm_size.empty()) {
        if (o.ipc_host)
            throw Error(Errc::usage, "--shm-size has no effect with --ipc host",
                        "the container uses the host's /dev/shm as it is: drop one of the two");
        o.shm_size = shm_size(r.shm_size);
    }
    // a vendor toolkit's runtime name (nvidia-docker's --runtime=nvidia) is gantry itself
    const auto runtimes = gpu_vendors::docker_runtimes();
    if (!r.runtime.empty() &&
        std::find(runtimes.begin(), runtimes.end(), r.runtime) == runtimes.end())
        throw Error(Errc::usage, "--runtime " + r.runtime + ": gantry runs the container itself",
                    "drop --runtime; `gantry bundle IMAGE DIR` writes a bundle that runc and crun "
                    "run");
    if (r.userns != "auto" && r.userns != "single" && r.userns != "subid" && r.userns != "keep-id")
        throw Error(Errc::usage, "unknown --userns \"" + r.userns + "\"",
                    "use auto, single, subid or keep-id");
    for (auto& so : r.security_opt) {
        if (so == "seccomp=unconfined" || so == "seccomp:unconfined")
            o.seccomp = false;
        else if (so == "no-new-privileges" || so == "no-new-privileges=true") {
        } else if (so == "label=disable" || so == "label:disable") {
            // gantry gives a container no SELinux label: what label=disable asks for
        } else if (so.starts_with("label=") || so.starts_with("label:"))
            throw Error(Errc::run_failed,
                        "--security-opt " + so + ": gantry gives containers no SELinux label",
                        "drop it (label=disable, what gantry does, is accepted)");
        else
            throw Error(Errc::usage, "unsupported --security-opt \"" + so + "\"",
                        "gantry supports seccomp=unconfined, no-new-privileges and label=disable");
    }
}

void add_options(const RunRequest& r, runspec::RunOptions& o) {
    o.command = r.command;
    o.entrypoint = r.entrypoint;
    o.env = r.env;
    o.env_files = r.env_files;
    o.workdir = r.workdir;
    o.user = r.user;
    for (const auto& g : r.group_add) {
        std::uint32_t gid = 0;
        auto [end, ec] = std::from_chars(g.data(), g.data() + g.size(), gid);
        if (!g.empty() && ec == std::errc{} && end == g.data() + g.size() && gid != 4294967295u) {
            o.group_add.push_back(gid);
            continue;
        }
        // a name: engine/image_groups.hpp looks it up in the image's /etc/group
        if (g.empty() || (g[0] >= '0' && g[0] <= '9') || g.find_first_of(":\n") != g.npos)
            throw Error(Errc::usage,
                        "--group-add '" + g +
                            "' is neither a group ID (0 to 4294967294) nor a "
                            "group name",
                        "give a number, e.g. --group-add 1000, or a name of the image's "
                        "/etc/group");
        o.group_add_names.push_back(g);
    }
    // keep-id: the caller's own ids inside (mapped to themselves), so the process runs as them
    if (r.userns == "keep-id" && o.user.empty())
        o.user = std::to_string(::geteuid()) + ":" + std::to_string(::getegid());
    o.hostname = r.hostname;
    for (auto& v : r.volumes) o.binds.push_back(runspec::parse_volume(v));
    o.tmpfs = r.tmpfs;
    for (auto& m : r.mounts) {
        auto flag = runspec::parse_mount_flag(m);
        if (flag.volume) // engine::resolve_named_volumes rewrites these before a run
            throw Error(Errc::internal, "--mount " + m + ": the volume was not resolved");
        if (flag.bind)
            o.binds.push_back(std::move(*flag.bind));
        else
            o.tmpfs.push_back(std::move(flag.tmpfs));
    }
    o.read_only = r.read_only;
    o.tty = r.tty;
    o.rlimits = runspec::parse_ulimits(r.ulimits);
    o.cap_add = r.cap_add;
    o.cap_drop = r.cap_drop;
    for (auto& d : r.devices) // docker's host devices; the others are CDI names (cdi.cpp)
        if (d.starts_with('/'))
            for (auto& n : runspec::host_devices(d)) o.devices.push_back(n);
}

WritableLayer writable_layer(const RunRequest& r) {
    // --read-only: no layer; `gantry apptainer`'s read-only image keeps one for the mount points
    // its binds make (Apptainer's session directory), and the root turns read-only after them
    if (r.read_only && r.apptainer_action.empty()) return {};
    std::string want = r.writable_layer;
    if (want.empty())
        if (const char* e = std::getenv("GANTRY_WRITABLE_LAYER"); e && *e) want = e;
    bool memory_ok = runtime::tmpfs_has_user_xattrs();
    if (want.empty() || want == "auto")
        return {memory_ok ? store::Layer::memory : store::Layer::disk};
    if (want == "disk") return {store::Layer::disk};
    if (!want.starts_with("memory") || (want.size() > 6 && want[6] != ':'))
        throw Error(Errc::usage, "unknown --writable-layer \"" + want + "\"",
                    "use memory, memory:SIZE (e.g. memory:8g), disk or auto");
    if (!memory_ok)
        throw Error(Errc::run_failed,
                    "a writable layer in memory needs Linux 6.6 or newer (tmpfs user.* xattrs "
                    "for the overlay)",
                    "use --writable-layer disk");
    WritableLayer c{store::Layer::memory};
    if (want.size() > 7) c.size = units::parse_size(want.substr(7), "--writable-layer memory:SIZE");
    if (want.size() > 6 && c.size == 0)
        throw Error(Errc::usage, "--writable-layer memory: needs a size above zero",
                    "e.g. --writable-layer memory:8g, or plain memory for the kernel's default");
    return c;
}

runtime::Resources resources(const RunRequest& r) {
    runtime::Resources res;
    if (!r.memory.empty()) res.memory = runtime::parse_memory(r.memory);
    if (!r.cpus.empty()) res.cpus = runtime::parse_cpus(r.cpus);
    if (!r.pids_limit.empty()) res.pids = runtime::parse_pids(r.pids_limit);
    if (!r.memory_swap.empty()) res.memory_swap = runtime::parse_memory_swap(r.memory_swap);
    if (!r.memory_reservation.empty())
        res.memory_reservation = runtime::parse_memory_reservation(r.memory_reservation);
    if (!r.memory_swappiness.empty())
        res.memory_swappiness = runtime::parse_memory_swappiness(r.memory_swappiness);
    if (!r.cpu_shares.empty()) res.cpu_shares = runtime::parse_cpu_shares(r.cpu_shares);
    if (!r.cpuset_cpus.empty() || !r.cpuset_mems.empty()) {
        // the caller's cgroup first (its refusal names the file), then what the process may use
        const auto caller = runtime::caller_cpuset();
        if (!r.cpuset_cpus.empty()) {
            runtime::check_caller_cpuset(r.cpuset_cpus, "--cpuset-cpus", true, caller);
            res.cpuset_cpus =
                runtime::parse_cpuset(r.cpuset_cpus, "--cpuset-cpus", runtime::available_cpus());
        }
        if (!r.cpuset_mems.empty()) {
            runtime::check_caller_cpuset(r.cpuset_mems, "--cpuset-mems", false, caller);
            res.cpuset_mems =
                runtime::parse_cpuset(r.cpuset_mems, "--cpuset-mems", runtime::available_mems());
        }
    }
    if (!r.cpu_rt_period.empty())
        res.cpu_rt_period = runtime::parse_cpu_rt(r.cpu_rt_period, "--cpu-rt-period");
    if (!r.cpu_rt_runtime.empty())
        res.cpu_rt_runtime = runtime::parse_cpu_rt(r.cpu_rt_runtime, "--cpu-rt-runtime");
    if (res.cpu_rt_period || res.cpu_rt_runtime) // the host has a realtime budget: cgroup v1's
        runtime::realtime_hierarchy(res.cpu_rt_period && res.cpu_rt_runtime
                                        ? "--cpu-rt-period and --cpu-rt-runtime"
                                    : res.cpu_rt_period ? "--cpu-rt-period"
                                                        : "--cpu-rt-runtime");
    runtime::check_together(res);
    return res;
}

std::uint64_t shm_size(const std::string& value) {
    auto bytes = runtime::parse_ram_size(value, "--shm-size");
    if (bytes <= 0) throw Error(Errc::usage, "--shm-size must be above zero", "e.g. --shm-size 8g");
    return static_cast<std::uint64_t>(bytes);
}

} // namespace gantry::engine
