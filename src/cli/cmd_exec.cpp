#include "cli/context.hpp"
#include "runspec/builder.hpp"
#include "runtime/exec.hpp"
#include "runtime/idmap.hpp"
#include "runtime/state.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace gantry::cli {

void register_exec(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> env;
        std::string workdir, user;
        bool interactive = false, tty = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("exec", "Run a command in a running container");
    LazyOptions opts(cmd, ctx.args);
    auto rest = opts.operands("CONTAINER", "The container, then the command and its arguments",
                              "CONTAINER COMMAND [ARG...]");
    opts.list(nullptr, "-e,--env", o->env, "Set an environment variable (K=V)");
    opts.option(nullptr, "-w,--workdir", o->workdir, "Working directory inside the container");
    opts.option(nullptr, "-u,--user", o->user, "UID[:GID] to run as");
    opts.flag(nullptr, "-i,--interactive", o->interactive,
              "Keep stdin open (stdin is always passed)");
    opts.flag(nullptr, "-t,--tty", o->tty, "Allocate a terminal");
    cmd->callback([&ctx, o, rest] {
        ctx.action = [o, rest = *rest] {
            if (rest.size() < 2)
                throw Error(Errc::usage, "exec needs a container and a command",
                            "gantry exec [-it] NAME COMMAND [ARG...]");
            runtime::StateDir states;
            auto s = states.get(rest[0]);
            if (!s.running())
                throw Error(Errc::conflict, "container " + s.name + " is not running",
                            "start it again with `gantry run -d --name " + s.name + " ...`");
            oci::RuntimeSpec spec = s.spec;
            spec.args.assign(rest.begin() + 1, rest.end());
            spec.terminal = o->tty;
            for (auto& e : o->env) {
                auto eq = e.find('=');
                if (eq == std::string::npos || eq == 0)
                    throw Error(Errc::usage, "invalid environment variable \"" + e + "\"",
                                "use -e K=V");
                std::string key = e.substr(0, eq + 1);
                std::erase_if(spec.env, [&](const std::string& x) { return x.starts_with(key); });
                spec.env.push_back(e);
            }
            if (!o->workdir.empty()) {
                if (o->workdir[0] != '/')
                    throw Error(Errc::usage,
                                "-w: working directory \"" + o->workdir + "\" must be absolute",
                                "give the directory inside the container from /, e.g. -w /tmp");
                spec.cwd = o->workdir;
            }
            if (!o->user.empty()) {
                std::string_view user = o->user;
                auto colon = user.find(':');
                auto uid = user.substr(0, colon);
                auto gid = colon == user.npos ? uid : user.substr(colon + 1);
                if (!text::all_digits(uid) || !text::all_digits(gid))
                    throw Error(Errc::usage, "exec -u takes a numeric UID[:GID]",
                                "e.g. -u 0 or -u 1000:1000");
                spec.uid = runspec::numeric_id(uid, "user ID");
                spec.gid = runspec::numeric_id(gid, "group ID");
            }
            bool single_id = runtime::is_single_id(spec.gid_mappings);
            return runtime::exec_in(s.pid, spec, single_id);
        };
    });
}

} // namespace gantry::cli
