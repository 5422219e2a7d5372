#include "cdi/registry.hpp"
#include "cli/context.hpp"
#include "cli/gpu_checks.hpp"
#include "compat/fatbin.hpp"
#include "gpu/cache.hpp"
#include "gpu/ldcache.hpp"
#include "gpu/request.hpp"
#include "rootfs/rootfs.hpp"
#include "rootfs/run_view.hpp"
#include "runspec/builder.hpp"
#include "runspec/gpu.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/idmap.hpp"
#include "runtime/launcher.hpp"
#include "runtime/seccomp.hpp"
#include "runtime/state.hpp"
#include "store/images.hpp"
#include "store/importer.hpp"
#include "store/scratch.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/identity.hpp"
#include "util/log.hpp"
#include "util/units.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <optional>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::cli {

namespace {

// The options that take a run off the launcher's shared-memory path, or change its namespaces
// or ids: a line that may name one gets no early start (prestart_run).
constexpr const char* kDetach = "-d,--detach";
constexpr const char* kInit = "--init";
constexpr const char* kNetwork = "--network,--net";
constexpr const char* kUserns = "--userns";
constexpr const char* kMemory = "-m,--memory";
constexpr const char* kCpus = "--cpus";
constexpr const char* kPidsLimit = "--pids-limit";
constexpr const char* kIpc = "--ipc";

struct RunFlags {
    std::vector<std::string> env, env_files, volumes, mounts, tmpfs, security_opt, ulimits, publish,
        cap_add, cap_drop;
    std::string ipc = "private", shm_size, runtime;
    std::string workdir, user, hostname, network = "host", entrypoint, write_warn = "1GiB", name,
                                         userns = "auto", memory, cpus, pids_limit,
                                         driver_root = "/", dev_root = "/", writable_layer;
    std::optional<std::string> gpus;
    std::vector<std::string> cdi_devices, cdi_dirs;
    bool entrypoint_set = false, rm = false, interactive = false, tty = false, init = false,
         read_only = false, detach = false, no_require = false;
};

std::string random_id() { // getrandom(2): std::random_device probes the CPU (a VM trap here)
    static const char* hex = "0123456789abcdef";
    unsigned char b[6] = {};
    if (::getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b))
        throw_errno("cannot get random bytes for the container id");
    std::string id;
    for (auto c : b) {
        id += hex[c >> 4];
        id += hex[c & 15];
    }
    return id;
}

// --writable-layer (or GANTRY_WRITABLE_LAYER): memory[:SIZE], the default where the kernel's
// tmpfs takes the overlay's user.* xattrs (Linux 6.6), else disk. Root too: the overlay is
// mounted inside the container's user namespace, with userxattr, as root or not.
struct LayerChoice {
    store::Layer layer = store::Layer::none;
    std::uint64_t size = 0; // memory: the tmpfs size limit (0: the kernel's default)
};

LayerChoice writable_layer(const RunFlags& f) {
    if (f.read_only) return {};
    std::string want = f.writable_layer;
    if (want.empty())
        if (const char* e = std::getenv("GANTRY_WRITABLE_LAYER"); e && *e) want = e;
    bool memory_ok = runtime::tmpfs_has_user_xattrs();
    if (want.empty() || want == "auto")
        return {memory_ok ? store::Layer::memory : store::Layer::disk};
    if (want == "disk") return {store::Layer::disk};
    if (want.rfind("memory", 0) != 0 || (want.size() > 6 && want[6] != ':'))
        throw Error(Errc::usage, "unknown --writable-layer \"" + want + "\"",
                    "use memory, memory:SIZE (e.g. memory:8g), disk or auto");
    if (!memory_ok)
        throw Error(Errc::run_failed,
                    "a writable layer in memory needs Linux 6.6 or newer (tmpfs user.* xattrs "
                    "for the overlay)",
                    "use --writable-layer disk");
    LayerChoice c{store::Layer::memory};
    if (want.size() > 7) c.size = units::parse_size(want.substr(7), "--writable-layer memory:SIZE");
    if (want.size() > 6 && c.size == 0)
        throw Error(Errc::usage, "--writable-layer memory: needs a size above zero",
                    "e.g. --writable-layer memory:8g, or plain memory for the kernel's default");
    return c;
}

// docker's -p [IP:][HOST:]CONTAINER[/PROTO]: a container in the host's network serves its ports
// on the host as they are, so a port published to itself is accepted (with a note) and any
// other mapping is refused: there is no port forwarding to do it.
void check_publish(const std::string& p, bool network_none) {
    if (network_none)
        throw Error(Errc::usage, "-p " + p + ": a container with --network none has no network",
                    "drop --network none (gantry uses the host's network) or -p");
    std::string ports = p.substr(0, p.find('/'));
    auto colon = ports.rfind(':');
    std::string inside = ports.substr(colon == std::string::npos ? 0 : colon + 1);
    std::string host = colon == std::string::npos ? "" : ports.substr(0, colon);
    host = host.substr(host.rfind(':') == std::string::npos ? 0 : host.rfind(':') + 1); // no IP
    if (inside.empty() || inside.find_first_not_of("0123456789-") != std::string::npos ||
        host.find_first_not_of("0123456789-") != std::string::npos)
        throw Error(Errc::usage, "invalid -p \"" + p + "\"",
                    "use -p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], e.g. -p 8888:8888");
    if (!host.empty() && host != inside)
        throw Error(Errc::usage,
                    "-p " + p + ": cannot publish container port " + inside + " as host port " +
                        host +
                        ": gantry runs containers in the host's network, with no port "
                        "forwarding",
                    "have the program listen on port " + host + " itself, or use -p " + inside +
                        ":" + inside);
    log::note("-p " + p + ": the container shares the host's network, so port " + inside +
              " is served on the host as it is (-p is not needed)");
}

int run_container(Context& ctx, const RunFlags& f, const std::vector<std::string>& rest) {
    if (rest.empty())
        throw Error(Errc::usage, "run needs an image", "gantry run IMAGE [COMMAND...]");
    const std::uint64_t write_warn =
        units::parse_size(f.write_warn, "--write-warn"); // before launch
    runspec::RunOptions o;
    if (f.network != "host" && f.network != "none")
        throw Error(Errc::usage, "unsupported --network \"" + f.network + "\"", "use host or none");
    o.network_none = f.network == "none";
    if (f.ipc == "host")
        o.ipc_host = true;
    else if (f.ipc != "private" && f.ipc != "shareable")
        throw Error(Errc::usage, "unsupported --ipc \"" + f.ipc + "\"",
                    f.ipc.rfind("container:", 0) == 0
                        ? "gantry cannot join another container's IPC namespace; use --ipc host "
                          "for both, or run both programs in one container (gantry exec)"
                        : "use private (the default) or host");
    if (!f.shm_size.empty()) {
        if (o.ipc_host)
            throw Error(Errc::usage, "--shm-size has no effect with --ipc host",
                        "the container uses the host's /dev/shm as it is: drop one of the two");
        o.shm_size = shm_size_flag(f.shm_size);
    }
    for (auto& p : f.publish) check_publish(p, o.network_none);
    if (!f.runtime.empty() && f.runtime != "nvidia") // nvidia-docker's --runtime=nvidia
        throw Error(Errc::usage, "--runtime " + f.runtime + ": gantry runs the container itself",
                    "drop --runtime; `gantry bundle IMAGE DIR` writes a bundle that runc and crun "
                    "run");
    o.privileged_user = running_as_real_root();
    o.host_uid = ::geteuid();
    o.host_gid = ::getegid();
    if (f.userns != "auto" && f.userns != "single" && f.userns != "subid")
        throw Error(Errc::usage, "unknown --userns \"" + f.userns + "\"",
                    "use auto, single or subid");
    if (!o.privileged_user) {
        if (ctx.run_id_maps && f.userns != "single") { // prestart_run's (--userns not given)
            o.uid_maps = std::move((*ctx.run_id_maps)[0]);
            o.gid_maps = std::move((*ctx.run_id_maps)[1]);
        } else {
            runtime::unprivileged_maps(o.host_uid, o.host_gid, f.userns != "single", o.uid_maps,
                                       o.gid_maps);
        }
        if (f.userns == "subid" && o.uid_maps.size() < 2)
            throw Error(Errc::run_failed,
                        "no subordinate ids for this user (or newuidmap/newgidmap missing)",
                        "add a range to /etc/subuid and /etc/subgid (usermod --add-subuids) and "
                        "install the uidmap package");
    }
    // The early start (runtime::EarlyStart): begun before the parse when the line allowed,
    // else now that the options are known (a command's own "-m" or "-d" kept it from the scan,
    // as in `python -m ...`); runtime::run takes it over or cancels it.
    auto early = std::move(ctx.early_start);
    if (f.detach)
        early.reset(); // the monitor process launches, not us
    else if (!early && !o.privileged_user && ::geteuid() != 0 && !f.init && f.memory.empty() &&
             f.cpus.empty() && f.pids_limit.empty() && runtime::is_single_id(o.uid_maps) &&
             runtime::is_single_id(o.gid_maps)) // uid 0 in a user namespace: the plain path
        early = runtime::EarlyStart::begin(runspec::namespaces(o), o.host_uid, o.host_gid);
    auto& store = ctx.store();
    auto view = rootfs::find_run_view(store, rest[0]);
    const auto& img = view.image;
    const auto& md = img.manifest_digest;
    auto host = oci::Platform::host();
    if (!img.config.platform.architecture.empty() && !host.accepts(img.config.platform))
        throw Error(Errc::run_failed,
                    "image " + rest[0] + " is built for " + img.config.platform.str() +
                        ", this host is " + host.str(),
                    "use an image for " + host.str());

    o.command.assign(rest.begin() + 1, rest.end());
    if (f.entrypoint_set) o.entrypoint = f.entrypoint;
    o.env = f.env;
    o.env_files = f.env_files;
    o.workdir = f.workdir;
    o.user = f.user;
    o.hostname = f.hostname;
    for (auto& v : f.volumes) o.binds.push_back(runspec::parse_volume(v));
    for (auto& m : f.mounts) o.binds.push_back(runspec::parse_mount(m));
    o.tmpfs = f.tmpfs;
    o.read_only = f.read_only;
    o.tty = f.tty;
    for (auto& so : f.security_opt) {
        if (so == "seccomp=unconfined" || so == "seccomp:unconfined")
            o.seccomp = false;
        else if (so == "no-new-privileges" || so == "no-new-privileges=true") {
        } else
            throw Error(Errc::usage, "unsupported --security-opt \"" + so + "\"",
                        "gantry supports seccomp=unconfined and no-new-privileges");
    }
    o.rlimits = runspec::parse_ulimits(f.ulimits);
    o.cap_add = f.cap_add;
    o.cap_drop = f.cap_drop;
    for (auto& d : f.cdi_devices) // docker's host devices; the others are CDI names (below)
        if (!d.empty() && d[0] == '/')
            for (auto& n : runspec::host_devices(d)) o.devices.push_back(n);
    auto spec = runspec::build(img.config.raw, o, view.passwd);

    std::string id = random_id();
    auto layer = writable_layer(f);
    // a detached container outlives this process: its hold is a file, released by `gantry rm`
    store::Scratch scratch(store, id, layer.layer, md, f.detach);

    // GPUs: the --gpus flag or the image's NVIDIA_VISIBLE_DEVICES contract.
    auto t0 = std::chrono::steady_clock::now();
    auto phase = [&t0](const char* what) { // --debug: where a GPU start spends its time
        auto now = std::chrono::steady_clock::now();
        log::debug(std::string(what) + ": " +
                   std::to_string(std::chrono::duration<double, std::milli>(now - t0).count()) +
                   " ms");
        t0 = now;
    };
    auto request = gpu::parse_request(spec.env, f.gpus);
    if (request.inject) {
        auto gpu_host = gpu::discover_cached({f.driver_root, f.dev_root, true},
                                             (runtime::runtime_dir() / "gpu-cache").string());
        auto sel = gpu::select(gpu_host, request);
        // gantry doctor's rules (driver vs the image's CUDA, NVIDIA_REQUIRE_*, kernels for the
        // selected GPUs, ...) before any namespace exists; cached per image, driver and GPUs.
        phase("gpu discovery");
        auto findings = image_findings_cached(store, img, rest[0], spec.env, gpu_host, request, sel,
                                              (runtime::runtime_dir() / "doctor-cache").string());
        bool overridden = f.no_require || request.disable_require;
        for (auto& fd : findings) {
            if (fd.severity == compat::Severity::fail && !overridden)
                throw Error(Errc::run_failed, fd.message,
                            fd.fix + (fd.fix.empty() ? "" : "; ") +
                                "--no-require (or NVIDIA_DISABLE_REQUIRE=true) runs it anyway");
            if (fd.severity == compat::Severity::fail)
                log::warn(fd.message + " (requirements not checked: " +
                          (f.no_require ? "--no-require" : "NVIDIA_DISABLE_REQUIRE") + ")");
            else if (fd.severity == compat::Severity::warn)
                log::warn(fd.message);
        }
        runspec::ImageGpuLayout layout;
        const auto& ids = img.config.diff_ids;
        if (!rootfs::image_has(store, ids, "etc/debian_version") &&
            !rootfs::image_has(store, ids, "usr/lib/x86_64-linux-gnu")) {
            layout.lib_dir = "/usr/lib64";
            layout.lib32_dir = "/usr/lib";
        }
        for (auto& n : rootfs::list_image_dir(store, ids, "usr/local/cuda/compat"))
            if (n.rfind("libcuda.so.", 0) == 0 && std::count(n.begin(), n.end(), '.') >= 4)
                layout.compat_libcuda = "/usr/local/cuda/compat/" + n;
        if (!layout.compat_libcuda.empty()) {
            Fd lib(rootfs::open_image_file(store, ids, layout.compat_libcuda.substr(1)));
            if (lib) try {
                    layout.compat_note =
                        compat::cuda_fwd_compat_note("/proc/self/fd/" + std::to_string(lib.get()))
                            .value_or("");
                } catch (const Error&) {
                }
        }
        std::string cache;
        try {
            cache = rootfs::read_image_file(store, ids, "etc/ld.so.cache");
        } catch (const Error&) {
            cache = "unreadable"; // parse fails below: ldconfig rebuilds it
        }
        if (!cache.empty()) {
            layout.cached_sonames.emplace();
            try {
                for (auto& e : gpu::ldcache::parse(cache).entries)
                    layout.cached_sonames->insert(e.key);
            } catch (const Error&) { // unreadable cache: let ldconfig rebuild it
                layout.cached_sonames->insert("libcuda.so.1");
            }
        }
        phase("pre-launch checks and image layout");
        runspec::inject_gpus(spec, gpu_host, sel, request.caps, layout, scratch.dir().string());
        phase("injection plan");
    }

    // CDI devices from any vendor's specs; their hooks run with exactly their declared env.
    std::vector<std::string> cdi_names;
    for (auto& name : f.cdi_devices)
        if (name.empty() || name[0] != '/') cdi_names.push_back(name);
    if (!cdi_names.empty()) {
        auto dirs = cdi::default_spec_dirs();
        dirs.insert(dirs.end(), f.cdi_dirs.begin(), f.cdi_dirs.end());
        cdi::Registry reg(dirs);
        for (auto& name : cdi_names)
            if (name.find('=') == std::string::npos)
                throw Error(Errc::usage, "--device " + name + ": not a CDI device name",
                            "use vendor.com/class=name, e.g. nvidia.com/gpu=0 (`gantry cdi list`), "
                            "or a host device path such as /dev/fuse");
        auto res = reg.apply(spec, cdi_names, cdi::ApplyOptions{false, true});
        for (auto& w : res.warnings) log::warn(w);
        for (auto& h : res.hooks)
            spec.hooks[h.hook_name].push_back(oci::Hook{h.path, h.args, h.env, h.timeout});
        if (!spec.hooks.empty()) {
            auto cfg = spec.to_json();
            cfg["root"]["path"] = (scratch.mount_point() / "root").string();
            fs::write_atomic(scratch.dir() / "config.json", cfg.dump(2) + "\n");
        }
    }

    // Named or detached containers are recorded so exec, ps, stop and rm can find them.
    std::optional<runtime::StateDir> states;
    runtime::ContainerState cs;
    if (!f.name.empty() || f.detach) {
        states.emplace();
        cs.name = f.name.empty() ? id : f.name;
        cs.id = id;
        cs.image = rest[0];
        cs.manifest = md.str();
        cs.store_root = store.root().string();
        cs.container_dir = scratch.dir().string();
        cs.command = spec.args;
        cs.detached = f.detach;
        cs.created = runtime::now_rfc3339();
        cs.monitor = ::getpid();
        cs.spec = spec;
        states->create(cs);
    }
    struct Unrecord {
        std::optional<runtime::StateDir>& st;
        std::string name;
        store::Scratch& scratch;
        ~Unrecord() {
            if (st && !scratch.kept()) try {
                    st->remove(name);
                } catch (...) {
                }
        }
    } unrecord{states, cs.name, scratch};

    runtime::Resources res;
    if (!f.memory.empty()) res.memory = runtime::parse_memory(f.memory);
    if (!f.cpus.empty()) res.cpus = runtime::parse_cpus(f.cpus);
    if (!f.pids_limit.empty()) res.pids = runtime::parse_pids(f.pids_limit);
    std::optional<runtime::Cgroup> cgroup;
    if (res.any()) cgroup.emplace(runtime::Cgroup::create("gantry-" + id, res));

    runtime::Launch l;
    l.hostname = spec.hostname;
    l.bundle = spec.hooks.empty() ? "" : scratch.dir().string();
    l.spec = std::move(spec); // not used below: the launch's copy is the one
    if (l.spec.seccomp) l.seccomp = runtime::seccomp_program(l.spec.capabilities);
    if (cgroup) l.on_created = [&](pid_t pid) { cgroup->add(pid); };
    l.mount_point = scratch.mount_point().string();
    l.id = id;
    l.init = f.init;
    l.early = early.get();
    auto st = rootfs::stack(store, img.config.diff_ids);
    bool on_disk = scratch.layer() == store::Layer::disk;
    l.overlay = runtime::Overlay{st.layers_dir,
                                 st.lower,
                                 on_disk ? scratch.upper().string() : "",
                                 on_disk ? scratch.work().string() : "",
                                 scratch.layer() == store::Layer::memory,
                                 layer.size};
    Fd tmpfs; // the container's private tmpfs, to measure an in-memory layer after the run
    if (scratch.layer() == store::Layer::memory)
        l.on_scratch = [&](Fd fd) { tmpfs = std::move(fd); };
    int ready_w = -1;
    l.on_started = [&](pid_t pid) {
        if (states) {
            cs.pid = pid;
            cs.pid_start = runtime::process_start_time(pid);
            cs.monitor = ::getpid();
            cs.status = "running";
            states->save(cs);
        }
        if (ready_w >= 0) {
            runtime::report_start(ready_w, nullptr);
            ::close(ready_w);
            ready_w = -1;
        }
    };
    auto launch = [&]() {
        int status;
        try {
            status = runtime::run(l);
        } catch (const runtime::OverlayUnavailable& e) {
            log::note(std::string(e.what()) +
                      "; using a flattened copy of the image instead (slower start)");
            auto flat = scratch.dir() / "flat";
            rootfs::flatten(store, img.config.diff_ids, flat.string(), o.privileged_user);
            l.overlay.reset();
            l.rootfs = flat.string();
            status = runtime::run(l);
        }
        if (states) {
            cs.status = "exited";
            cs.exit_code = status;
            cs.finished = runtime::now_rfc3339();
            if (fs::stdfs::exists(states->dir() / cs.name)) states->save(cs); // unless rm'ed
        }
        return status;
    };
    // what the run wrote into the container layer, when it is more than --write-warn
    auto report_writes = [&] {
        if (scratch.layer() == store::Layer::disk) {
            if (auto w = store::write_report(scratch.upper(), write_warn)) log::warn(*w);
        } else if (tmpfs && l.overlay) {
            for (auto& w : store::memory_layer_reports(tmpfs.get(), write_warn)) log::warn(w);
        }
    };
    if (!f.detach) {
        int status = launch();
        log::debug(early && early->used()
                       ? "the container process was started early, beside the image lookup"
                       : "the container process was started after the spec was built");
        report_writes();
        return status;
    }

    // Detached: a monitor process (in its own session, output to the container's log file)
    // supervises the container; we return once the workload runs, or with its start error.
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) throw_errno("pipe failed");
    pid_t monitor = ::fork();
    if (monitor < 0) throw_errno("fork failed");
    if (monitor == 0) {
        ::close(ready[0]);
        ready_w = ready[1];
        ::setsid();
        int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        int logfd = ::open((scratch.dir() / "log").c_str(),
                           O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (null >= 0) ::dup2(null, 0);
        if (logfd >= 0) {
            ::dup2(logfd, 1);
            ::dup2(logfd, 2);
        }
        try {
            launch();
            report_writes(); // into the container's log, where `gantry logs` shows it
            if (f.rm) {      // docker's run -d --rm: gone once it exits, as `gantry rm` would do
                if (states) try {
                        states->remove(cs.name);
                    } catch (...) {
                    }
                scratch.discard();
            }
        } catch (const Error& e) {
            if (ready_w >= 0) runtime::report_start(ready_w, &e);
            scratch.release();
        } catch (...) {
        }
        ::_exit(0);
    }
    ::close(ready[1]);
    Fd ready_r(ready[0]);
    try {
        runtime::await_start(ready_r.get());
    } catch (const Error&) {
        ::waitpid(monitor, nullptr, 0);
        scratch.release();
        throw;
    }
    scratch.keep();
    std::printf("%s\n", id.c_str());
    return 0;
}

} // namespace

std::uint64_t shm_size_flag(const std::string& value) {
    auto bytes = runtime::parse_ram_size(value, "--shm-size");
    if (bytes <= 0) throw Error(Errc::usage, "--shm-size must be above zero", "e.g. --shm-size 8g");
    return static_cast<std::uint64_t>(bytes);
}

void prestart_run(Context& ctx) {
    // Root takes the plain path (the launcher writes its identity map from outside), and so
    // does a line that may name an option that changes the path; whatever the line turns out
    // to say, run_container and runtime::run check the parsed options against the early start
    // and cancel it when they differ.
    if (::geteuid() == 0) return;
    LazyOptions line(nullptr, ctx.args); // only scans the line (with --help: names all)
    for (auto* names : {kDetach, kInit, kNetwork, kUserns, kMemory, kCpus, kPidsLimit, kIpc})
        if (line.may_name(names)) return;
    auto& maps = ctx.run_id_maps.emplace();
    runtime::unprivileged_maps(::geteuid(), ::getegid(), true, maps[0], maps[1]);
    if (!runtime::is_single_id(maps[0]) || !runtime::is_single_id(maps[1])) return;
    ctx.early_start = runtime::EarlyStart::begin(runspec::namespaces({}), ::geteuid(), ::getegid());
}

void register_run(CLI::App& app, Context& ctx) {
    auto f = std::make_shared<RunFlags>();
    auto* cmd = app.add_subcommand("run", "Run a command in a new container from an image");
    // Only the options this command line names are built (LazyOptions), in --help's groups.
    LazyOptions o(cmd, ctx.args);
    auto rest = o.operands("IMAGE", "The image, then the command and its arguments",
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
    o.list(files, "-v,--volume", f->volumes, "Bind mount SRC:DST[:ro|rw]");
    o.list(files, "--mount", f->mounts, "Bind mount type=bind,src=...,dst=...[,readonly]");
    o.list(files, "--tmpfs", f->tmpfs, "Mount a tmpfs at DST[:options]");
    o.option(iso, kNetwork, f->network, "host (default) or none");
    if (auto* e = o.option(proc, "--entrypoint", f->entrypoint, "Override the image's ENTRYPOINT"))
        e->each([f](const std::string&) { f->entrypoint_set = true; });
    o.list(iso, "--security-opt", f->security_opt, "seccomp=unconfined to disable seccomp");
    o.option(files, "--write-warn", f->write_warn,
             "Warn when a run writes more than this into the container layer (default 1GiB)");
    o.option(iso, kUserns, f->userns,
             "auto (subordinate ids from /etc/subuid when newuidmap allows, else your id only), "
             "single or subid");
    o.option(iso, kMemory, f->memory, "Memory limit (e.g. 512m, 2g) through cgroup v2");
    o.option(iso, kCpus, f->cpus, "CPU limit (e.g. 1.5) through cgroup v2");
    o.option(iso, kPidsLimit, f->pids_limit, "Process limit (-1: unlimited) through cgroup v2");
    o.list(iso, "--ulimit", f->ulimits,
           "Resource limit NAME=SOFT[:HARD] (nofile, memlock, stack, core, nproc, ...; -1: "
           "unlimited); raising a hard limit needs root");
    o.list(iso, "--cap-add", f->cap_add,
           "Add a capability (SYS_PTRACE, IPC_LOCK, ..., ALL), in the container's user namespace; "
           "the seccomp profile then allows its syscalls, as docker's");
    o.list(iso, "--cap-drop", f->cap_drop, "Drop a capability of the default set (or ALL)");
    o.option(iso, kIpc, f->ipc,
             "private (default: own IPC namespace and /dev/shm) or host (the host's, as NGC "
             "images recommend for PyTorch)");
    o.option(iso, "--shm-size", f->shm_size, "Size of the private /dev/shm (default 64m)");
    o.list(iso, "-p,--publish", f->publish,
           "Accepted for a port published as itself (-p 8888:8888): the host's network is used");
    o.option(gpu, "--gpus", f->gpus,
             "GPUs to add: all, N, device=0,2, GPU-/MIG- UUIDs (docker syntax)");
    o.option(gpu, "--driver-root", f->driver_root,
             "Root of the NVIDIA driver installation (default /)");
    o.option(gpu, "--dev-root", f->dev_root, "Root holding dev/nvidia* device nodes (default /)");
    o.option(gpu, "--runtime", f->runtime,
             "nvidia is accepted (nvidia-docker's): GPUs follow --gpus or the image's "
             "NVIDIA_VISIBLE_DEVICES either way");
    o.list(gpu, "--device", f->cdi_devices,
           "CDI device vendor.com/class=name, or a host device /dev/X[:/dev/Y] (a directory "
           "such as /dev/infiniband gives all its devices)");
    o.list(gpu, "--cdi-spec-dir", f->cdi_dirs,
           "Also read CDI specs from this directory (after /etc/cdi and /var/run/cdi)");
    o.flag(gpu, "--no-require", f->no_require,
           "Do not check NVIDIA_REQUIRE_* against the host driver (warns instead)");
    o.flag(proc, kDetach, f->detach, "Run in the background; print the container ID");
    o.option(proc, "--name", f->name, "Name the container so exec, ps, stop and rm can find it");
    o.flag(proc, "--rm", f->rm,
           "Remove the container at exit (the default, but for -d, whose container stays for "
           "`gantry logs` and `ps -a` until `gantry rm`)");
    o.flag(proc, "-i,--interactive", f->interactive, "Keep stdin open (stdin is always passed)");
    o.flag(proc, "-t,--tty", f->tty, "Allocate a terminal");
    o.flag(proc, kInit, f->init,
           "Run a tiny init as PID 1 that reaps zombies and forwards signals");
    o.flag(files, "--read-only", f->read_only, "Mount the root filesystem read-only");
    o.option(files, "--writable-layer", f->writable_layer,
             "Where the container's writes go: memory[:SIZE] (default; a private tmpfs freed at "
             "exit, by default up to half the RAM), disk (the store), or auto; the default comes "
             "from GANTRY_WRITABLE_LAYER");
    cmd->callback([&ctx, f, rest] {
        ctx.action = [&ctx, f, rest = *rest] {
            try {
                return run_container(ctx, *f, rest);
            } catch (const Error& e) {
                if (static_cast<int>(e.code()) >= 125) throw;
                throw Error(e.code() == Errc::usage ? Errc::usage : Errc::run_failed, e.message(),
                            e.hint());
            }
        };
    });
}

} // namespace gantry::cli
