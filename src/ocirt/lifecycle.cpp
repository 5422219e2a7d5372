// create, start, run, kill and delete: a container's life between the caller's commands.
#include "oci/spec_checks.hpp"
#include "oci/spec_fields.hpp"
#include "ocirt/cgroups.hpp"
#include "ocirt/container.hpp"
#include "ocirt/gpus.hpp"
#include "ocirt/kernel_cache_use.hpp"
#include "ocirt/lazy_root.hpp"
#include "ocirt/ocirt.hpp"
#include "records/state.hpp"
#include "runtime/capabilities.hpp"
#include "runtime/idmapped_mount.hpp"
#include "runtime/launcher.hpp"
#include "runtime/supervisor.hpp"
#include "seccomp/seccomp.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <regex.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace gantry::ocirt {

namespace stdfs = std::filesystem;

namespace {

nlohmann::json read_config(const stdfs::path& bundle) {
    stdfs::path file = bundle / "config.json";
    std::string text;
    try {
        text = fs::read_file(file);
    } catch (const Error& e) {
        throw Error(Errc::not_found, "cannot read the bundle's config.json: " + e.message(),
                    "--bundle names a directory holding config.json (default: the current one)");
    }
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw Error(Errc::invalid, file.string() + " is not valid JSON: " + e.what());
    }
}

// The state a hook reads: STATUS and PID as runc gives them at that point.
nlohmann::json with_status(const Container& c, const char* status, pid_t pid) {
    nlohmann::json j = state_json(c);
    j["status"] = status;
    j["pid"] = pid;
    return j;
}

// runc's destroy: poststop hooks once the container is gone (status "stopped", pid 0); a
// failing one is a warning, the container is deleted all the same. They run in DIR: runc's
// working directory, the caller's for `delete`, the bundle for `create` and `run` (runc enters
// it).
void run_poststop_hooks(const Container& c, const std::string& dir) {
    runtime::run_hooks(c.spec, "poststop", with_status(c, "stopped", 0).dump(), true, dir);
}

// Kills a created or running container's processes and waits for its first to exit.
void kill_and_wait(const Container& c);

// runc's warning for capabilities the running kernel lacks (known names above its last one):
// they are left out of the sets.
void warn_unavailable_capabilities(const oci::RuntimeSpec& spec) {
    auto missing = runtime::detail::unavailable_capabilities(spec.capabilities);
    if (missing.empty()) return;
    std::string list;
    for (auto& m : missing) list += (list.empty() ? "" : " ") + m;
    std::fprintf(stderr, "gantry-oci: warning: ignoring capabilities this kernel lacks: %s\n",
                 list.c_str());
}

// runc's default devices (oci::default_device_nodes): made in a /dev the spec does not bind from
// the host, unless the spec lists one of the same path.
void add_default_devices(oci::RuntimeSpec& spec) {
    for (const auto& m : spec.mounts)
        if (m.destination == "/dev" &&
            (m.type == "bind" || std::ranges::find(m.options, "bind") != m.options.end() ||
             std::ranges::find(m.options, "rbind") != m.options.end()))
            return;
    for (const auto& d : oci::default_device_nodes())
        if (std::ranges::none_of(spec.devices, [&](const auto& n) { return n.path == d.path; }))
            spec.devices.push_back(d);
}

struct Created {
    Container c;
    Fd master; // kept when the caller proxies the terminal itself (a foreground run)
};

// process.consoleSize: the terminal's rows and columns, as runc sets them at create
void set_console_size(int master, const nlohmann::json& config) {
    const auto& p = config.at("process");
    if (!p.contains("consoleSize")) return;
    struct winsize ws {};
    ws.ws_row = p["consoleSize"].value("height", std::uint16_t{0});
    ws.ws_col = p["consoleSize"].value("width", std::uint16_t{0});
    ::ioctl(master, TIOCSWINSZ, &ws);
}

Created create_container(const Global& g, const CreateOptions& o, bool keep_master) {
    const stdfs::path bundle = stdfs::absolute(o.bundle).lexically_normal();
    nlohmann::json config = read_config(bundle);
    oci::RuntimeSpec spec;
    try {
        spec = oci::RuntimeSpec::from_json(config);
    } catch (const nlohmann::json::exception& e) {
        throw Error(Errc::invalid,
                    "the bundle's config.json is not a runtime spec: " + std::string(e.what()));
    }
    // what gantry cannot honour as runc does is refused here, before anything is made
    oci::check_spec_fields(config);
    oci::check_runtime_spec(spec);
    check_gantry_annotations(spec.annotations);
    warn_unavailable_capabilities(spec);
    // the bundle's own seccomp profile, or none (checked and compiled before anything is made)
    std::optional<seccomp::SeccompFilter> filter = seccomp_filter(config);
    spec.seccomp = filter.has_value();
    if (spec.args.empty())
        throw Error(Errc::invalid, "the bundle's config.json has no process.args",
                    "process.args names the program the container runs");
    stdfs::path rootfs = spec.root_path;
    if (rootfs.is_relative()) rootfs = bundle / rootfs;
    std::error_code ec;
    if (!stdfs::is_directory(rootfs, ec))
        throw Error(Errc::not_found, "the bundle's root " + rootfs.string() + " is not a directory",
                    "root.path in config.json names the container's root (relative to the bundle)");
    // a bind mount's relative source is relative to the runtime's working directory, as runc's
    // specconv joins it (the container's process starts elsewhere: runtime/mounts.hpp)
    for (auto& m : spec.mounts) {
        bool bind = m.type == "bind" || m.type.empty() ||
                    std::ranges::any_of(m.options, [](const std::string& opt) {
                        return opt == "bind" || opt == "rbind";
                    });
        if (bind && !m.source.empty() && m.source[0] != '/')
            m.source = (stdfs::current_path() / m.source).lexically_normal().string();
    }
    // GPUs the bundle asks for (CDI annotations, NVIDIA_/AMD_VISIBLE_DEVICES): the spec gains
    // their devices, mounts and hooks; the hooks see that spec (below), never a changed bundle
    gpu_vendors::AddedGpus added;
    bool gpus = !add_requested_gpus(spec, &added).empty();
    // their share (io.gantry.gpu-memory, ...): the spec's environment and mounts, and config's
    // linux.resources, which the cgroup below is made from
    apply_gpu_share(spec, config, added);
    // runc's default propagation of the container's mount namespace (prepareRoot): "/" rslave,
    // so that mounts the host makes later under a bind's shared source reach the container
    if (spec.rootfs_propagation.empty()) spec.rootfs_propagation = "rslave";
    add_default_devices(spec);
    if (spec.terminal && o.console_socket.empty() && !keep_master)
        throw Error(Errc::usage,
                    "cannot allocate tty if runc will detach without setting "
                    "console socket",
                    "process.terminal needs --console-socket");

    // `gantry bundle --pull lazy`: the root served from the registry by a monitor of its own
    std::unique_ptr<LazyRoot> lazy = LazyRoot::open(spec);

    Created out;
    Container& c = out.c;
    c.id = o.id;
    c.container_dir = claim(g, o.id).string();
    pid_t pid = -1;
    std::optional<runtime::ContainerCgroup> cgroup;
    try {
        // the limits are written before the process exists; it joins before its program runs
        cgroup = make_cgroup(g, o.id, config, spec);
        c.cgroup = cgroup->to_json();
        c.bundle = bundle.string();
        c.rootfs = rootfs.string();
        c.config = std::move(config);
        c.spec = oci::RuntimeSpec::from_json(c.config); // as a later command reads it
        c.created = records::now_rfc3339();
        if (::mkfifo(fifo(c).c_str(), 0600) != 0) throw_errno("cannot make " + fifo(c).string());
        Fd gate(::open(fifo(c).c_str(), O_RDWR | O_CLOEXEC));
        if (!gate) throw_errno("cannot open " + fifo(c).string());
        fs::make_dirs(record_dir(c) / "mnt", 0700);

        // io.gantry.kernel-cache: the key's cache mounted, its variables set; its monitor
        // (below) holds it while the container runs
        std::unique_ptr<KernelCacheUse> cache = KernelCacheUse::attach(
            spec, o.id, rootfs,
            added.backend ? added.backend : cdi_annotations_backend(spec.annotations),
            requested_roots());

        runtime::Launch l;
        if (gpus && !spec.hooks.empty()) { // hooks read config.json: give them the edited spec
            auto edited = spec.to_json();
            edited["root"]["path"] = c.rootfs;
            fs::write_atomic(record_dir(c) / "config.json", edited.dump(2) + "\n", 0644,
                             fs::Sync::volatile_only);
        }
        l.spec = std::move(spec);
        if (filter) {
            l.seccomp = std::move(filter->program);
            l.seccomp_flags = filter->flags;
        }
        // idmapped binds: made here, in the host's namespaces, attached by the container
        // and, for a new user namespace, every bind's source opened here too (runc's)
        const bool new_userns = std::ranges::count(l.spec.namespaces, "user") > 0 &&
                                !l.spec.namespace_paths.contains("user");
        std::vector<Fd> idmapped;
        for (std::size_t i = 0; i < l.spec.mounts.size(); ++i) {
            const auto& m = l.spec.mounts[i];
            const bool mapped = oci::mount_idmap(m) != oci::MountIdmap::none;
            if (!mapped && !new_userns) continue;
            Fd tree = mapped
                          ? runtime::idmapped_tree(m, "mounts[" + std::to_string(i) + "]", l.spec)
                          : runtime::host_bind_tree(m);
            if (!tree) continue;
            idmapped.push_back(std::move(tree));
            l.mount_trees.resize(l.spec.mounts.size(), -1);
            l.mount_trees[i] = idmapped.back().get();
        }
        l.mount_point = (record_dir(c) / "mnt").string();
        l.rootfs = c.rootfs;
        if (lazy) lazy->prepare(l);
        l.id = c.id;
        l.bundle = gpus && !l.spec.hooks.empty() ? record_dir(c).string() : c.bundle;
        l.hook_dir = c.bundle; // where runc runs the hooks: it enters the bundle
        l.start_gate = gate.get();
        l.on_created = [&cgroup](pid_t p) { cgroup->add(p); };
        pid = runtime::create(l, l.spec.terminal ? &out.master : nullptr);
        c.pid = pid;
        c.pid_start = records::process_start_time(pid);
        if (lazy) {
            c.monitor = lazy->watch(pid, c.pid_start);
            c.monitor_started = records::process_start_time(c.monitor);
        }
        if (cache) {
            c.kernel_cache_monitor = cache->watch(pid, c.pid_start);
            c.kernel_cache_monitor_started = records::process_start_time(c.kernel_cache_monitor);
        }
        save(c);
        if (out.master) set_console_size(out.master.get(), c.config);
        if (out.master && !o.console_socket.empty()) {
            send_console(o.console_socket, out.master.get());
            out.master.reset();
        }
        // runc 1.1 runs the poststart hooks here, at create, the process waiting at the gate
        // (status "created"); a failing one fails the create
        nlohmann::json created = with_status(c, "created", pid);
        created["bundle"] = l.bundle; // the edited spec's directory when GPUs added hooks
        runtime::run_hooks(l.spec, "poststart", created.dump(), false, c.bundle);
        write_pid_file(o.pid_file, pid);
    } catch (...) {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        if (cgroup) cgroup->destroy();
        // as runc destroys a container whose create failed: its record, then poststop hooks
        fs::remove_tree(record_dir(c));
        if (!c.config.is_null()) run_poststop_hooks(c, c.bundle);
        throw;
    }
    return out;
}

int parse_signal(const std::string& s) {
    std::string name = s;
    if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) {
        int n = std::stoi(name);
        if (n > 0 && n <= SIGRTMAX) return n;
    } else {
        if (name.starts_with("SIG")) name = name.substr(3);
        for (int n = 1; n < NSIG; ++n)
            if (const char* a = ::sigabbrev_np(n); a && name == a) return n;
    }
    throw Error(Errc::usage, "unknown signal \"" + s + "\"",
                "a name (TERM, SIGKILL) or a number (15)");
}

// The processes of the container's cgroup, or none when it has no cgroup or the cgroup is not
// its own alone (it holds this process or the host's init: a linux.cgroupsPath naming a cgroup
// others live in, whose processes are not the container's to kill).
std::optional<std::vector<int>> cgroup_members(const Container& c) {
    auto cg = cgroups(c);
    if (!cg) return std::nullopt;
    std::vector<int> out;
    for (pid_t p : cg->pids()) {
        if (p == ::getpid() || p == 1) return std::nullopt;
        out.push_back(p);
    }
    return out;
}

// The processes a signal to "all of them" reaches, as runc finds them: those in the container's
// cgroup (a container without a PID namespace of its own has processes that its first one's
// namespaces do not tell apart from the host's, and that outlive it; one that joined another's
// PID namespace shares it with that one's), else (rootless without a cgroup) those of its
// namespaces while it runs.
std::vector<int> members(const Container& c) {
    if (auto in = cgroup_members(c)) return *in;
    if (!alive(c)) return {};
    auto pids = processes(c); // never this process, nor the host's init (a shared cgroup's)
    std::erase_if(pids, [](int p) { return p == ::getpid() || p == 1; });
    return pids;
}

void signal_all(const Container& c, int sig) {
    for (int p : members(c))
        if (p != ::getpid()) ::kill(p, sig);
    if (alive(c) && ::kill(c.pid, sig) != 0 && errno != ESRCH)
        throw sys_error(errno, "cannot signal container " + c.id);
}

// runc's destroy: what is left in the container's cgroup once its first process has gone (its
// children, without a PID namespace of their own; a process forked while the list was read) is
// killed, round after round until the cgroup is empty, so that nothing of the container outlives
// its delete and its cgroup can be removed. A lazy root's monitor is killed after 1 s (a read
// its serving process has not answered holds a process past SIGKILL); 3 s at most.
void kill_leftovers(const Container& c) {
    const auto start = std::chrono::steady_clock::now();
    for (bool monitor_killed = false;;) {
        auto pids = cgroup_members(c);
        if (!pids || pids->empty()) return;
        for (int p : *pids) ::kill(p, SIGKILL);
        try {
            if (auto cg = cgroups(c)) cg->thaw(); // a frozen process takes SIGKILL once thawed
        } catch (const Error&) {
        }
        auto spent = std::chrono::steady_clock::now() - start;
        if (!monitor_killed && spent > std::chrono::seconds(1) && c.monitor > 0 &&
            records::process_running(c.monitor, c.monitor_started)) {
            ::kill(c.monitor, SIGKILL);
            monitor_killed = true;
        }
        if (spent > std::chrono::seconds(3)) {
            std::fprintf(stderr,
                         "gantry-oci: warning: %zu process(es) of container %s still in its "
                         "cgroup after SIGKILL\n",
                         pids->size(), c.id.c_str());
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

void kill_and_wait(const Container& c) {
    signal_all(c, SIGKILL);
    // a frozen process takes its SIGKILL once thawed: a paused container is not left hanging
    const auto cg = cgroups(c);
    if (cg) cg->thaw();
    if (records::await_exit(c.pid, c.pid_start, 1)) return;
    // Still there after 1 s. Frozen in a freezer cgroup that is not the container's (moved there
    // by someone else: crun's test_simple_delete does it to make a delete meet a stuck container)
    // it takes its SIGKILL only once thawed: moved back into the container's own freezer
    // cgroup, which is not frozen, it is thawed and dies (its other cgroups: where it was).
    if (cg && !cg->dir("freezer").empty()) {
        Fd procs(::open((cg->dir("freezer") + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
        std::string pid = std::to_string(c.pid);
        if (procs && ::write(procs.get(), pid.data(), pid.size()) < 0) {
            // gone meanwhile, or not ours to move: the wait below says which
        }
    }
    // A lazy root's read that its serving process has not answered (a registry too slow) holds
    // the container in the kernel past SIGKILL: its monitor killed, the serving process dies
    // with it (PR_SET_PDEATHSIG) and the read ends.
    if (c.monitor > 0 && records::process_running(c.monitor, c.monitor_started))
        ::kill(c.monitor, SIGKILL);
    // as runc's delete --force, which gives up after 10 s ("container init still running")
    if (!records::await_exit(c.pid, c.pid_start, 10))
        throw Error(Errc::run_failed,
                    "container " + c.id + " still runs 10 s after SIGKILL (pid " +
                        std::to_string(c.pid) + ")",
                    "a process the kernel holds (state D in /proc/" + std::to_string(c.pid) +
                        "/status) dies once what it waits for ends; delete it again then");
}

} // namespace

void create(const Global& g, const CreateOptions& o) {
    create_container(g, o, false);
}

void start(const Global& g, const std::string& id) {
    Container c = load(g, id);
    std::string st = status(c);
    if (st == "stopped")
        throw Error(Errc::conflict, "cannot start a container that has stopped",
                    "delete it and create it again");
    if (st == "running") throw Error(Errc::conflict, "cannot start an already running container");
    Fd w(::open(fifo(c).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!w) {
        if (errno == ENXIO || errno == ENOENT)
            throw Error(Errc::conflict, "cannot start a container that has stopped");
        throw sys_error(errno, "cannot open " + fifo(c).string());
    }
    ::unlink(fifo(c).c_str()); // "running" from now on
    if (::write(w.get(), "0", 1) != 1) throw sys_error(errno, "cannot start container " + id);
}

int run(const Global& g, const CreateOptions& o, bool detach, bool keep) {
    if (detach) {
        create(g, o);
        start(g, o.id);
        return 0;
    }
    runtime::detail::ForwardedSignalsBlocked blocked;
    Created cr = create_container(g, o, true);
    int status;
    try {
        start(g, o.id);
        status =
            runtime::detail::supervise(cr.c.pid, blocked.set(), cr.master ? cr.master.get() : -1);
    } catch (...) {
        remove(g, o.id, true, cr.c.bundle);
        throw;
    }
    if (!keep) remove(g, o.id, true, cr.c.bundle); // runc's run is in the bundle: poststop too
    return status;
}

void kill(const Global& g, const std::string& id, const std::string& signal, bool all) {
    Container c = load(g, id);
    int sig = parse_signal(signal);
    if (!alive(c)) {
        if (all) { // runc: --all signals what is left in its cgroup (children that outlived it)
            for (int p : members(c)) ::kill(p, sig);
            return;
        }
        throw Error(Errc::conflict, "container not running",
                    "container " + id + " has stopped; `gantry-oci delete " + id + "` removes it");
    }
    if (all)
        signal_all(c, sig);
    else if (::kill(c.pid, sig) != 0)
        throw sys_error(errno, "cannot signal container " + id);
}

void remove(const Global& g, const std::string& id, bool force, const std::string& hook_dir) {
    std::optional<Container> found = find(g, id);
    if (!found) {
        // runc: what an aborted create left (a directory without its state) goes; with
        // --force a container that does not exist is no error
        fs::remove_tree(root_dir(g) / id);
        if (!force) load(g, id); // throws runc's "container does not exist"
        return;
    }
    const Container& c = *found;
    std::string st = status(c);
    if ((st == "running" || st == "paused") && !force)
        throw Error(Errc::conflict, "cannot delete container " + id + " that is not stopped: " + st,
                    "stop it with `gantry-oci kill " + id + " KILL`, or use --force");
    if (st != "stopped") kill_and_wait(c); // a created one is deleted as runc does it
    kill_leftovers(c); // stopped or killed: what outlived its first process goes with it
    // a lazy root's monitor ends once the container has: nothing serves or holds its image after
    if (c.monitor > 0) records::await_exit(c.monitor, c.monitor_started, 10);
    // a kernel cache's writer is published once the container has exited: deleted after it
    if (c.kernel_cache_monitor > 0)
        records::await_exit(c.kernel_cache_monitor, c.kernel_cache_monitor_started, 30);
    if (auto cg = cgroups(c)) cg->destroy();
    fs::remove_tree(record_dir(c));
    run_poststop_hooks(c, hook_dir);
}

std::vector<DeleteFailure> remove_matching(const Global& g, const std::string& pattern,
                                           bool force) {
    regex_t re;
    if (::regcomp(&re, pattern.c_str(), REG_EXTENDED | REG_NOSUB) != 0)
        throw Error(Errc::usage, "invalid regular expression " + pattern,
                    "--regex takes a POSIX extended regular expression (crun's)");
    std::vector<std::string> ids;
    for (const auto& one : list(g)) {
        std::string id = one.value("id", "");
        if (::regexec(&re, id.c_str(), 0, nullptr, 0) == 0) ids.push_back(std::move(id));
    }
    ::regfree(&re);
    std::vector<DeleteFailure> failed;
    for (const auto& id : ids) {
        try {
            remove(g, id, force);
        } catch (const Error& e) {
            failed.push_back({id, e.message(), e.hint()});
        } catch (const std::exception& e) {
            failed.push_back({id, e.what(), ""});
        }
    }
    return failed;
}

} // namespace gantry::ocirt
