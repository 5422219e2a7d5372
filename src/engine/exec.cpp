#include "engine/exec.hpp"

#include "records/events.hpp"
#include "runspec/user_spec.hpp"
#include "runtime/exec.hpp"
#include "userns/idmap.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/random.hpp"

#include <algorithm>
#include <fcntl.h>

namespace gantry::engine {

namespace {

bool sets(const std::vector<std::string>& env, const std::string& key_eq) {
    return std::any_of(env.begin(), env.end(),
                       [&](const std::string& e) { return e.starts_with(key_eq); });
}

void replace_var(std::vector<std::string>& env, const std::string& var) {
    std::string key = var.substr(0, var.find('=') + 1);
    std::erase_if(env, [&](const std::string& x) { return x.starts_with(key); });
    env.push_back(var);
}

std::string containers_passwd(pid_t pid) {
    auto proc_root = "/proc/" + std::to_string(pid) + "/root";
    Fd root(::open(proc_root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    Fd file(root ? fs::openat_in_root(root.get(), "etc/passwd", O_RDONLY | O_CLOEXEC) : -1);
    return file ? fs::read_stream(file.get(), 1 << 20, "the container's /etc/passwd") : "";
}

} // namespace

oci::RuntimeSpec exec_spec(const records::ContainerState& s, const ExecRequest& request) {
    if (request.command.empty())
        throw Error(Errc::usage, "exec needs a command", "gantry exec [-it] NAME COMMAND [ARG...]");
    oci::RuntimeSpec spec = s.spec;
    spec.args = request.command;
    spec.terminal = request.tty;
    for (const auto& e : request.env) {
        auto eq = e.find('=');
        if (eq == std::string::npos || eq == 0)
            throw Error(Errc::usage, "invalid environment variable \"" + e + "\"", "use -e K=V");
        replace_var(spec.env, e);
    }
    if (!request.workdir.empty()) {
        if (request.workdir[0] != '/')
            throw Error(Errc::usage,
                        "-w: working directory \"" + request.workdir + "\" must be absolute",
                        "give the directory inside the container from /, e.g. -w /tmp");
        spec.cwd = request.workdir;
    }
    if (request.user.empty()) return spec;
    runspec::ResolvedUser who;
    try {
        who = runspec::resolve_user(request.user, containers_passwd(s.pid));
    } catch (const Error& e) {
        if (e.code() != Errc::run_failed) throw;
        throw Error(Errc::usage,
                    "exec -u " + request.user + ": no such user in the container's /etc/passwd",
                    "give a user it names, or a numeric UID[:GID]");
    }
    spec.uid = who.uid;
    spec.gid = who.gid;
    if (!who.home.empty() && !sets(request.env, "HOME=")) replace_var(spec.env, "HOME=" + who.home);
    return spec;
}

std::string exec_event_action(const std::string& what, const std::vector<std::string>& command) {
    std::string line = what;
    if (what == "exec_die") return line;
    line += ":";
    for (const auto& word : command) line += " " + word;
    return line;
}

int exec(const ExecRequest& request, bool* detached) {
    auto keys = runtime::DetachKeys::parse(request.detach_keys); // refused before anything runs
    records::StateDir states;
    auto s = states.get_started(request.container);
    if (!s.running())
        throw Error(Errc::conflict, "container " + s.name + " is not running",
                    "start it again with `gantry start " + s.name + "`");
    if (s.paused()) // docker's words
        throw Error(Errc::conflict,
                    "Container " + s.id + " is paused, unpause the container before exec",
                    "`gantry unpause " + s.name + "`");
    oci::RuntimeSpec spec = exec_spec(s, request);
    // docker's exec events: the exec's ID among the attributes of each, its status in exec_die's
    const std::string exec_id = random::hex_id(32);
    records::EventJournal journal;
    journal.append(records::container_event(s, exec_event_action("exec_create", spec.args),
                                            {{"execID", exec_id}}));
    journal.append(records::container_event(s, exec_event_action("exec_start", spec.args),
                                            {{"execID", exec_id}}));
    int status = 0;
    bool left = false; // the client detached: the process runs on
    try {
        status = runtime::exec_in(s.pid, spec, userns::is_single_id(spec.gid_mappings),
                                  request.tty ? &keys : nullptr, &left);
    } catch (const Error& e) {
        journal.append(records::container_event(
            s, "exec_die",
            {{"execID", exec_id}, {"exitCode", std::to_string(exit_status(e.code()))}}));
        throw;
    }
    if (left) {
        if (detached) *detached = true;
        return 0;
    }
    journal.append(records::container_event(
        s, "exec_die", {{"execID", exec_id}, {"exitCode", std::to_string(status)}}));
    return status;
}

} // namespace gantry::engine
