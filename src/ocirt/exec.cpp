// exec: another process in a running container, as runc's `exec` starts one.
#include "runtime/exec.hpp"

#include "oci/spec_checks.hpp"
#include "ocirt/container.hpp"
#include "ocirt/ocirt.hpp"
#include "runtime/supervisor.hpp"
#include "userns/idmap.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace gantry::ocirt {

namespace {

// The process object: --process's file, or the container's own with the command line's changes.
nlohmann::json process_of(const Container& c, const ExecOptions& o) {
    if (!o.process_file.empty()) {
        try {
            return nlohmann::json::parse(fs::read_file(o.process_file));
        } catch (const nlohmann::json::exception& e) {
            throw Error(Errc::invalid, o.process_file + " is not a JSON process: " + e.what());
        }
    }
    if (o.args.empty())
        throw Error(Errc::usage, "exec needs a command, or --process FILE",
                    "gantry-oci exec ID COMMAND [ARG...]");
    nlohmann::json p = c.config.value("process", nlohmann::json::object());
    p["args"] = o.args;
    p["terminal"] = o.tty;
    if (!o.cwd.empty()) p["cwd"] = o.cwd;
    auto env = p.value("env", std::vector<std::string>{});
    env.insert(env.end(), o.env.begin(), o.env.end());
    p["env"] = env;
    if (!o.user.empty()) {
        auto colon = o.user.find(':');
        try {
            p["user"]["uid"] = std::stoul(o.user.substr(0, colon));
            p["user"]["gid"] =
                colon == std::string::npos ? 0ul : std::stoul(o.user.substr(colon + 1));
        } catch (const std::exception&) {
            throw Error(Errc::usage, "invalid --user " + o.user, "--user UID[:GID], numeric");
        }
    }
    return p;
}

} // namespace

int exec(const Global& g, const ExecOptions& o) {
    Container c = load(g, o.id);
    std::string st = status(c);
    if (st != "running")
        throw Error(Errc::conflict, "cannot exec in a " + st + " container",
                    st == "created" ? "start it first" : "");
    nlohmann::json config = c.config;
    config["process"] = process_of(c, o);
    oci::RuntimeSpec spec;
    try {
        spec = oci::RuntimeSpec::from_json(config);
    } catch (const nlohmann::json::exception& e) {
        throw Error(Errc::invalid, "invalid process: " + std::string(e.what()));
    }
    if (spec.args.empty()) throw Error(Errc::invalid, "the process has no args");
    oci::check_runtime_spec(spec);
    // runc sets an exec'ed process's oom_score_adj from the container's config, not the process
    const oci::RuntimeSpec own = c.spec;
    spec.oom_score_adj = own.oom_score_adj;
    // and its scheduler and I/O priority unless the process names its own (runc's
    // newInitConfig); linux.memoryPolicy is the container's config's, as is all of linux
    if (!spec.scheduler) spec.scheduler = own.scheduler;
    if (!spec.io_priority) spec.io_priority = own.io_priority;
    if (spec.terminal && o.detach && o.console_socket.empty())
        throw Error(Errc::usage, "cannot allocate tty if runc will detach without setting "
                                 "console socket");
    // the container's own profile (its config.json as at create), or none, as for its process
    std::optional<seccomp::SeccompFilter> filter = seccomp_filter(config);
    spec.seccomp = filter.has_value();
    const bool single_id = userns::is_single_id(spec.gid_mappings);
    runtime::detail::ForwardedSignalsBlocked blocked;
    Fd master;
    // runc joins an exec'ed process to the container's cgroup before it runs the program
    const auto cgroup = cgroups(c);
    pid_t pid = runtime::exec_start(c.pid, spec, single_id, spec.terminal ? &master : nullptr,
                                    filter ? &*filter : nullptr, [&](pid_t p) {
                                        if (cgroup) cgroup->add(p);
                                    });
    if (master && !o.console_socket.empty()) {
        send_console(o.console_socket, master.get());
        master.reset();
    }
    write_pid_file(o.pid_file, pid);
    if (o.detach) return 0;
    return runtime::detail::supervise(pid, blocked.set(), master ? master.get() : -1);
}

} // namespace gantry::ocirt
