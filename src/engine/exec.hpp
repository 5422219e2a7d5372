// `gantry exec`: a process started in a running container, as docker's exec does: the
// container's own process settings (environment, user, capabilities, seccomp) with the
// request's command, terminal, environment, working directory and user applied, and its
// exec_create, exec_start and exec_die events journalled (`gantry events`). The CLI and the
// Engine API's exec endpoints call this; runtime/exec.hpp joins the namespaces and starts it.
#pragma once

#include "oci/runtime_spec.hpp"
#include "records/state.hpp"

#include <string>
#include <vector>

namespace gantry::engine {

struct ExecRequest {
    std::string container;            // its name, ID or ID prefix
    std::vector<std::string> command; // the program and its arguments (not empty)
    std::vector<std::string> env;     // K=V, each replacing the container's K
    std::string workdir;              // absolute; empty: the container's
    std::string user;                 // NAME[:GROUP] or UID[:GID]; empty: the container's
    bool tty = false;
    // docker's --detach-keys ("": its default, ctrl-p,ctrl-q), with TTY and a terminal on stdin
    std::string detach_keys;
};

// The process spec REQUEST starts in the running container S: a user name is looked up in the
// container's own /etc/passwd, read inside its root (a link there cannot reach the host's
// files); HOME follows the user unless REQUEST's env sets it. Throws Error(usage) naming a bad
// variable, a relative working directory or an unknown user.
oci::RuntimeSpec exec_spec(const records::ContainerState& s, const ExecRequest& request);

// Runs REQUEST in its container and returns the process's exit status; Error(conflict) when
// the container is not running, and errors before the start as runtime::exec_in throws them.
// With a terminal, REQUEST's detach keys end it early: DETACHED set, the process left running
// (no exec_die: it has not ended), 0 returned.
int exec(const ExecRequest& request, bool* detached = nullptr);

// docker's exec event actions: "exec_create: CMD ARGS..." (the command as one line),
// "exec_start: ...", "exec_die".
std::string exec_event_action(const std::string& what, const std::vector<std::string>& command);

} // namespace gantry::engine
