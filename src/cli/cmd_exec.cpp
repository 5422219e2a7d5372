#include "cli/context.hpp"
#include "engine/exec.hpp"
#include "util/error.hpp"

#include <cstdio>

namespace gantry::cli {

void register_exec(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> env;
        std::string workdir, user, detach_keys;
        bool interactive = false, tty = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("exec", "Run a command in a running container");
    LazyOptions opts(cmd, ctx.args);
    auto rest = opts.operands("CONTAINER", "The container, then the command and its arguments",
                              "CONTAINER COMMAND [ARG...]");
    opts.list(nullptr, "-e,--env", o->env, "Set an environment variable (K=V)");
    opts.option(nullptr, "-w,--workdir", o->workdir, "Working directory inside the container");
    opts.option(nullptr, "-u,--user", o->user,
                "User name or UID[:GID] to run as (a name from the container's /etc/passwd)");
    opts.flag(nullptr, "-i,--interactive", o->interactive,
              "Keep stdin open (stdin is always passed)");
    opts.flag(nullptr, "-t,--tty", o->tty, "Allocate a terminal");
    opts.option(nullptr, "--detach-keys", o->detach_keys,
                "With -t on a terminal: the keys that detach and leave the process running "
                "(default ctrl-p,ctrl-q)");
    cmd->callback([&ctx, o, rest] {
        ctx.action = [o, rest = *rest] {
            if (rest.size() < 2)
                throw Error(Errc::usage, "exec needs a container and a command",
                            "gantry exec [-it] NAME COMMAND [ARG...]");
            engine::ExecRequest r;
            r.container = rest[0];
            r.command.assign(rest.begin() + 1, rest.end());
            r.env = o->env;
            r.workdir = o->workdir;
            r.user = o->user;
            r.tty = o->tty;
            r.detach_keys = o->detach_keys;
            bool detached = false;
            int status = engine::exec(r, &detached);
            if (!detached) return status;
            std::fputs("read escape sequence\n", stderr); // docker's words and status
            return 1;
        };
    });
}

} // namespace gantry::cli
