#include "cli/context.hpp"
#include "runspec/user_spec.hpp"
#include "runtime/exec.hpp"
#include "runtime/idmap.hpp"
#include "runtime/state.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <fcntl.h>

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
    opts.option(nullptr, "-u,--user", o->user,
                "User name or UID[:GID] to run as (a name from the container's /etc/passwd)");
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
                // a name is looked up in the container's own /etc/passwd, resolved inside its
                // root (a link there cannot reach the host's files)
                std::string passwd;
                auto proc_root = "/proc/" + std::to_string(s.pid) + "/root";
                Fd root(::open(proc_root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
                Fd file(root ? fs::openat_in_root(root.get(), "etc/passwd", O_RDONLY | O_CLOEXEC)
                             : -1);
                if (file)
                    passwd = fs::read_stream(file.get(), 1 << 20, "the container's /etc/passwd");
                runspec::ResolvedUser who;
                try {
                    who = runspec::resolve_user(o->user, passwd);
                } catch (const Error& e) {
                    if (e.code() != Errc::run_failed) throw;
                    throw Error(Errc::usage,
                                "exec -u " + o->user +
                                    ": no such user in the container's /etc/passwd",
                                "give a user it names, or a numeric UID[:GID]");
                }
                spec.uid = who.uid;
                spec.gid = who.gid;
                bool home_given =
                    std::any_of(o->env.begin(), o->env.end(),
                                [](const std::string& e) { return e.starts_with("HOME="); });
                if (!who.home.empty() && !home_given) {
                    std::erase_if(spec.env,
                                  [](const std::string& x) { return x.starts_with("HOME="); });
                    spec.env.push_back("HOME=" + who.home);
                }
            }
            bool single_id = runtime::is_single_id(spec.gid_mappings);
            return runtime::exec_in(s.pid, spec, single_id);
        };
    });
}

} // namespace gantry::cli
