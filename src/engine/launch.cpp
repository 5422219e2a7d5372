// run(): a prepared container from launch to exit. The state record (named and detached
// containers, for exec, ps, stop, logs and rm), the cgroup, the launch with its fallback to a
// flattened root where the kernel refuses the overlay, the write report, and for -d the monitor
// process that supervises the container after `gantry run` returned.
#include "container_log/output.hpp"
#include "engine/apptainer_overlay.hpp"
#include "engine/docker_flags.hpp"
#include "engine/engine.hpp"
#include "engine/health.hpp"
#include "engine/kept_preparation.hpp"
#include "engine/record.hpp"
#include "engine/request_json.hpp"
#include "engine/restart_policy.hpp"
#include "engine/run_record.hpp"
#include "engine/squashfs.hpp"
#include "engine/volumes.hpp"
#include "fuse/server.hpp"
#include "lazy/squashfs_artifact.hpp"
#include "lazy/tree.hpp"
#include "network/pasta.hpp"
#include "oci/seccomp_profile.hpp"
#include "records/events.hpp"
#include "records/health.hpp"
#include "records/state.hpp"
#include "rootfs/rootfs.hpp"
#include "runtime/container_cgroup.hpp"
#include "runtime/monitor.hpp"
#include "sandbox/thread_confinement.hpp"
#include "seccomp/seccomp.hpp"
#include "sqsh/image_tree.hpp"
#include "sqsh/kernel_mount.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"
#include "util/log.hpp"

#include <chrono>
#include <fcntl.h>
#include <optional>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace gantry::engine {

namespace {

// The FUSE mount's data for a root served to a container of SPEC's user namespace
std::function<std::string(int)> fuse_options_for(const oci::RuntimeSpec& spec) {
    auto owner = fuse::Server::mount_owner(spec.uid_mappings);
    auto group = fuse::Server::mount_owner(spec.gid_mappings);
    return [owner, group](int fd) { return fuse::Server::mount_options(fd, owner, group); };
}

// One container's launch: the runtime's Launch, filled from the prepared container.
struct Launcher {
    Prepared& p;
    detail::Record record;
    runtime::OwnedCgroup cgroup; // removed when the run ends, unless the -d monitor owns it
    runtime::Launch l;
    Fd tmpfs; // the container's private tmpfs, to measure an in-memory layer after the run
    std::unique_ptr<fuse::Server> server;  // a squashfs image's FUSE server
    Fd lower_tree;                         // or its kernel mount (root)
    int ready_w = -1;                      // -d: the pipe to the waiting `gantry run`
    pid_t copier = -1;                     // -d: the output copier (container_log/output.hpp)
    std::unique_ptr<network::Pasta> pasta; // --network bridge: its user-mode stack
    std::unique_ptr<network::Attachment> attachment; // --network NAME: its place on it
    bool freezer_only = false; // -d without limits: its cgroup is for pause alone (for_freezer)

    explicit Launcher(Prepared& prepared) : p(prepared), record(prepared) {
        if (p.resources.any()) {
            cgroup = runtime::own(runtime::ContainerCgroup::for_run("gantry-" + p.id, p.resources));
        } else if (p.request.detach) {
            // one of its own for docker's pause, where the host gives one (else pause is refused)
            try {
                cgroup = runtime::own(runtime::ContainerCgroup::for_freezer("gantry-" + p.id));
                freezer_only = true;
            } catch (const Error& e) {
                log::debug("the container has no cgroup of its own (pause is refused): " +
                           e.message());
            }
        }
        if (cgroup) record.cgrouped(cgroup->to_json());
        auto& scratch = *p.scratch;
        l.hostname = p.spec.hostname;
        l.bundle = p.spec.hooks.empty() ? "" : scratch.dir().string();
        l.spec = std::move(p.spec); // the launch's copy is the one from here on
        if (l.spec.seccomp)
            l.seccomp =
                seccomp::seccomp_program(l.spec.capabilities.bounding,
                                         l.spec.annotations.count(oci::kFakeRootAnnotation) > 0);
        if (cgroup || p.network.mode == network::Mode::bridge ||
            p.network.mode == network::Mode::user)
            l.on_created = [this](pid_t pid) {
                if (cgroup && freezer_only) { // asked for by no flag: never a reason to fail
                    try {
                        cgroup->add(pid);
                    } catch (const Error& e) { // a cgroup v2 host's parent it may not write
                        log::debug("the container has no cgroup of its own (pause is refused): " +
                                   e.message());
                        cgroup.reset();
                        record.cgrouped(nullptr);
                    }
                } else if (cgroup) {
                    cgroup->add(pid);
                }
                if (p.network.mode == network::Mode::bridge) connect(pid);
                if (p.network.mode == network::Mode::user) {
                    auto macs = attachment->connect(pid);
                    record.joined(endpoint_settings(*attachment, macs, p.network));
                    journal_network_events(*attachment, "connect", p.id);
                    // published ports: pasta beside the network's eth0 (as a bridge
                    // container's, docs/networks.md)
                    if (!p.network.published.empty()) connect(pid, "pasta0");
                }
            };
        l.mount_point = scratch.mount_point().string();
        l.id = p.id;
        // `gantry apptainer instance start`: Apptainer's instance init holds the instance after
        // its startscript returned (a daemon that forked), until `instance stop`
        l.hold = p.request.apptainer_action == "start";
        l.init = p.request.init || l.hold;
        l.sig_proxy = p.request.sig_proxy;
        l.early = p.early.get();
        rootfs::LayerStack st;
        if (p.lazy) {
            // served over FUSE on MOUNT_POINT/lower by a process of this one that fetches
            // chunks from the registry: confined (nobody as root, no capabilities), with the
            // network calls a libcurl client makes (docs/lazy-pull.md, Confinement)
            server = std::make_unique<fuse::Server>(
                p.lazy, fuse::IdView{l.spec.uid_mappings, l.spec.gid_mappings});
            l.fuse_serve = [this](Fd dev) {
                server->serve(std::move(dev), sandbox::confinement(lazy::server_calls()));
                record.serving(server->pid());
            };
            l.fuse_options = fuse_options_for(l.spec);
            st = {l.mount_point, {"lower"}};
        } else if (p.sqsh) {
            // as root, the kernel's squashfs (attached by the child); else, or when the kernel
            // cannot, served over FUSE on MOUNT_POINT/lower by this process
            std::string why;
            if (sqsh::kernel_mount_wanted(l.spec)) lower_tree = sqsh::kernel_tree(*p.sqsh, why);
            if (lower_tree) {
                l.lower_tree = lower_tree.get();
            } else {
                if (!why.empty())
                    log::debug("the kernel cannot mount " + p.sqsh->path() + " (" + why +
                               "): FUSE instead");
                server = std::make_unique<fuse::Server>(
                    std::make_shared<sqsh::ImageTree>(p.sqsh),
                    fuse::IdView{l.spec.uid_mappings, l.spec.gid_mappings});
                // the serving process parses the image: confined (engine/squashfs.hpp)
                l.fuse_serve = [this](Fd dev) {
                    server->serve(std::move(dev), squashfs_confinement());
                    record.serving(server->pid());
                };
                l.fuse_options = fuse_options_for(l.spec);
            }
            st = {l.mount_point, {"lower"}};
        } else if (!p.sandbox.empty()) {
            // an Apptainer sandbox: the overlay's one lower layer, under the run's writable
            // layer (the mount points of its binds go there, not into the directory)
            st = {p.sandbox, {"."}};
        } else {
            st = rootfs::stack(*p.store, p.view.image.config.diff_ids);
        }
        bool on_disk = scratch.layer() == store::Layer::disk;
        l.overlay = runtime::Overlay{st.layers_dir,
                                     st.lower,
                                     on_disk ? scratch.upper().string() : "",
                                     on_disk ? scratch.work().string() : "",
                                     scratch.layer() == store::Layer::memory,
                                     p.layer.size};
        apply_apptainer_overlays(p.request, l.spec, !l.hostname.empty(),
                                 (scratch.dir() / "points").string(), *l.overlay);
        if (!p.sandbox.empty() && p.request.apptainer_writable) {
            l.overlay.reset(); // --writable: the directory itself, written in place
            l.rootfs = p.sandbox;
        }
        if (scratch.layer() == store::Layer::memory)
            l.on_scratch = [this](Fd fd) { tmpfs = std::move(fd); };
        l.on_started = [this](pid_t pid) {
            record.started(pid);
            if (!p.request.pidfile.empty())
                fs::write_atomic(p.request.pidfile, std::to_string(pid) + "\n", 0644,
                                 fs::Sync::volatile_only);
            if (!p.request.cidfile.empty()) write_cidfile(p.request.cidfile, p.id);
            if (ready_w >= 0) {
                runtime::report_start(ready_w, nullptr);
                ::close(ready_w);
                ready_w = -1;
            }
        };
    }

    // --network bridge: the container's namespace joined to the outside, its ports published,
    // before its process goes on (a second launch, on a flattened root, gets a new stack)
    void connect(pid_t pid, const std::string& interface = "eth0") {
        pasta.reset();
        pasta = std::make_unique<network::Pasta>(
            pid, network::StackOptions{p.network.published, p.network.dns_forward,
                                       p.scratch->dir().string(), interface});
        record.networked(pasta->pid());
    }

    // The launch, retried on a flattened copy of the image where the overlay is refused.
    int launch() {
        int status;
        // --network NAME: in the process that supervises the container, which holds its place
        // on the network until it has ended
        if (p.network.mode == network::Mode::user) attachment = attach_user_network(p, l.spec);
        try {
            status = runtime::run(l);
        } catch (const runtime::OverlayUnavailable& e) {
            if (p.lazy)
                throw Error(Errc::run_failed,
                            std::string(e.what()) + " (on the FUSE mount of " + p.lazy->name() +
                                ")",
                            "pull the image without --lazy: gantry pull " + p.request.image);
            if (p.sqsh)
                throw Error(Errc::run_failed,
                            std::string(e.what()) + " (on the FUSE mount of " + p.sqsh->path() +
                                ")",
                            "unpack the image instead: gantry load " + p.sqsh->path());
            if (!p.sandbox.empty())
                throw Error(Errc::run_failed,
                            std::string(e.what()) + " (over the sandbox " + p.sandbox + ")",
                            "run it with --writable (the directory itself, written in place)");
            if (!p.request.apptainer_overlays.empty())
                throw Error(Errc::run_failed,
                            std::string(e.what()) + " (with --overlay " +
                                p.request.apptainer_overlays.front() + ")",
                            "put the overlay directory on a filesystem overlayfs takes as its "
                            "upper layer (ext4, xfs, btrfs; not NFS or overlayfs itself)");
            if (p.request.overlay_required)
                throw Error(Errc::run_failed,
                            std::string(e.what()) + ": a build step's changes are the overlay's "
                                                    "upper directory, in the store",
                            "put the store on a filesystem overlayfs takes as its upper layer "
                            "(ext4, xfs, btrfs; not overlayfs itself): --root DIR or GANTRY_ROOT");
            log::note(std::string(e.what()) +
                      "; using a flattened copy of the image instead (slower start)");
            auto flat = p.scratch->dir() / "flat";
            rootfs::flatten(*p.store, p.view.image.config.diff_ids, flat.string(),
                            p.options.privileged_user);
            l.overlay.reset();
            l.rootfs = flat.string();
            status = runtime::run(l);
        }
        pasta.reset(); // the container has ended: its network's stack with it
        if (attachment && attachment->connected())
            journal_network_events(*attachment, "disconnect", p.id);
        attachment.reset();
        // a writer's additions published before its end is recorded: once `wait` returns,
        // the next start of the key finds them
        if (p.kernel_cache) p.kernel_cache->finish();
        if (p.request.detach) finish_output();
        record.exited(status);
        // removed: what the run made local stays in the lazy cache (a later pull or run makes
        // it a store image), so `gantry rm` returns once the serving process is gone
        if (record.removing()) {
            if (auto tree = std::dynamic_pointer_cast<lazy::Tree>(p.lazy)) tree->keep_no_layers();
            if (auto sq = std::dynamic_pointer_cast<lazy::SquashfsTree>(p.lazy))
                sq->set_after_serving(nullptr); // no .sqsh cache entry made (a pull makes it)
        } else if (p.lazy) {
            // removed while the copies become store layers (or the .sqsh cache entry): that
            // work stops, so `gantry rm` of an exited container does not wait for it
            p.lazy->abandon_when([this] { return record.removal_requested(); });
        }
        return status;
    }

    // -d, once the workload has ended and before its end is recorded: the report of what it
    // wrote goes into its output, then the monitor's stdout and stderr close and the copier
    // has up to 2 s to write what the pipes still hold (a process the container left behind
    // may hold them longer: the copier then goes on alone). So once `ps` or wait says the
    // container exited, `logs` has all of its output.
    void finish_output() {
        report_writes();
        int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0) {
            ::dup2(null, 1);
            ::dup2(null, 2);
            ::close(null);
        }
        if (copier > 0) container_log::await_output_copier(copier, 2000);
        copier = -1;
    }

    // What the run wrote into the container layer, when it is more than --write-warn.
    void report_writes() {
        auto& scratch = *p.scratch;
        if (scratch.layer() == store::Layer::disk) {
            if (auto w = store::write_report(scratch.upper(), p.write_warn)) log::warn(*w);
        } else if (tmpfs && l.overlay) {
            for (auto& w : store::memory_layer_reports(tmpfs.get(), p.write_warn)) log::warn(w);
        }
    }

    // -d -i (docker's OpenStdin without an attached client): the container's stdin a pipe whose
    // writing end this monitor holds and never writes, so a program reading it waits (docker's
    // `run -di IMG cat` keeps running) rather than reading /dev/null's end at once. The record
    // names that end: an attached client's stdin is written to it through /proc (docker's
    // attach with stdin, ContainerState::stdin_writer), and detaching leaves it open.
    void hold_stdin_open() {
        if (!p.request.interactive) return;
        int in[2];
        if (::pipe2(in, O_CLOEXEC) != 0) return; // stdin stays /dev/null
        ::dup2(in[0], 0);                        // dup2's copy is not close-on-exec
        ::close(in[0]);
        record.stdin_held(in[1]); // held until this monitor ends
    }

    // -d, its restart policy's start: `gantry __restart ID` (engine::restart_by_policy), a
    // process of its own that none of this one's descriptors reach (the name's owner lock among
    // them: it takes the record over once this monitor has ended)
    void start_again() {
        const std::string self = fs::self_exe();
        pid_t pid = runtime::fork_monitor({.null_output = true, .keep_only = std::vector<int>{}});
        if (pid == 0) {
            ::execl(self.c_str(), "gantry", "__restart", p.id.c_str(), nullptr);
            ::_exit(127);
        }
        if (pid < 0) log::warn("container " + p.id + " was not restarted: cannot fork");
    }

    // -d: a monitor process (in its own session, output to the container's log file)
    // supervises the container; we return once the workload runs, or with its start error.
    std::string detach() {
        auto& scratch = *p.scratch;
        int ready[2];
        if (::pipe2(ready, O_CLOEXEC) != 0) throw_errno("pipe failed");
        // the name's owner lock stays open in it (Record)
        pid_t monitor = runtime::fork_monitor({.null_output = false, .keep_only = {}});
        if (monitor < 0) throw_errno("cannot start the container's monitor process");
        if (monitor == 0) {
            ::close(ready[0]);
            ready_w = ready[1];
            hold_stdin_open(); // recorded with the monitor
            try {
                record.monitored_here();
            } catch (...) { // its start error, if any, is reported below
            }
            // stdout and stderr: pipes to the copier, which frames them into the output file
            // (each chunk marked with its stream and time); without one (--log-driver none, or
            // no copier), the output goes nowhere
            try {
                if (p.request.log_driver == "none")
                    throw Error(Errc::unsupported, "no log kept (--log-driver none)");
                Fd out_w, err_w;
                copier = container_log::start_output_copier(
                    (scratch.dir() / container_log::kOutputFile).string(), out_w, err_w);
                ::dup2(out_w.get(), 1);
                ::dup2(err_w.get(), 2);
            } catch (const Error&) {
                int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
                ::dup2(null >= 0 ? null : 0, 1);
                ::dup2(null >= 0 ? null : 0, 2);
                if (null >= 0) ::close(null);
            }
            try {
                int record_status = launch(); // its end: the writes' report, then the copier's
                // docker's run -d --rm: gone once it exits, as `gantry rm` does; the state goes
                // last, so once `ps -a` no longer lists it, its hold and directory are gone too
                if (p.request.rm) {
                    scratch.discard();
                    record.remove();
                } else if (record.restart_due(record_status)) {
                    start_again();
                }
            } catch (const Error& e) {
                if (ready_w >= 0) runtime::report_start(ready_w, &e);
                scratch.release();
            } catch (...) {
            }
            pasta.reset(); // a start that failed after it began (_exit runs no destructor)
            attachment.reset();
            cgroup.reset(); // the container's cgroup goes with it
            server.reset(); // a lazy image keeps what its run made local (lazy/store_layers.hpp)
            ::_exit(0);
        }
        ::close(ready[1]);
        delete cgroup.release(); // the monitor's now: it removes it once the container ends
        Fd ready_r(ready[0]);
        try {
            runtime::await_start(ready_r.get());
        } catch (const Error&) {
            ::waitpid(monitor, nullptr, 0);
            scratch.release();
            throw;
        }
        scratch.keep();
        if (p.kernel_cache) p.kernel_cache->hand_over(); // the monitor finishes it
        return p.id;
    }
};

} // namespace

Outcome run(Prepared& p) {
    Launcher launcher(p);
    if (p.request.detach) return {0, launcher.detach()};
    detach_unattached_streams(attached_streams(p.request));
    int status = launcher.launch();
    // `gantry start -a` of a --rm container: gone once it exits, as run -d --rm's
    if (!p.request.container_id.empty() && p.request.rm && !launcher.record.removing()) {
        p.scratch->discard();
        launcher.record.remove();
    }
    log::debug(p.early && p.early->used()
                   ? "the container process was started early, beside the image lookup"
                   : "the container process was started after the spec was built");
    launcher.report_writes();
    return {status, {}};
}

Outcome execute(store::Store& store, RunRequest request, Caller caller,
                std::unique_ptr<runtime::EarlyStart> early) {
    auto p = prepare(store, std::move(request), std::move(caller), std::move(early));
    return run(p);
}

} // namespace gantry::engine
