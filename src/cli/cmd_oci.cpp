// `gantry oci ...` (and gantry run as `gantry-oci` or `runc`): runc's command line bound to
// ocirt::. Errors exit 1, as runc's do (usage errors too: main.cpp's parse errors for `oci`),
// and are also written to --log for the caller.
#include "cli/context.hpp"
#include "ocirt/ocirt.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/printable.hpp"

#include <cstdio>

namespace gantry::cli {

namespace {

struct OciOpts {
    ocirt::Global g;
    std::string rootless;
    ocirt::CreateOptions create;
    ocirt::ExecOptions exec;
    ocirt::UpdateOptions update;
    std::string id, signal = "TERM", format = "table", interval = "5s", bundle = ".";
    bool all = false, force = false, regex = false, detach = false, quiet = false, stats = false,
         spec_rootless = false, keep = false;
};

// One error, runc's way: a line on stderr (and a hint) and in --log; returns STATUS.
int report(const OciOpts& o, const std::string& message, const std::string& hint, int status) {
    ocirt::log_error(o.g, message);
    std::fprintf(stderr, "gantry-oci: %s\n", text::printable(message).c_str());
    if (!hint.empty()) std::fprintf(stderr, "hint: %s\n", text::printable(hint).c_str());
    return status;
}

// Runs BODY as the action, runc's way: an error exits 1 (usage errors too), never docker's
// 125. FAILED, PREFIX: what runc's exec does instead, 255 and "exec failed: ".
void act(Context& ctx, const std::shared_ptr<OciOpts>& o, std::function<int()> body, int failed = 1,
         std::string prefix = "") {
    ctx.action = [o, body = std::move(body), failed, prefix = std::move(prefix)] {
        try { // --log first, as runc's: a log it cannot open fails every command with 1
            ocirt::open_log(o->g);
        } catch (const Error& e) {
            return report(*o, e.message(), e.hint(), 1);
        }
        try {
            return body();
        } catch (const Error& e) {
            return report(*o, prefix + e.message(), e.hint(), failed);
        } catch (const std::exception& e) {
            return report(*o, prefix + e.what(), "", failed);
        }
    };
}

void add_create_flags(CLI::App* c, ocirt::CreateOptions& o) {
    c->add_option("-b,--bundle", o.bundle, "Bundle directory (default: the current one)");
    c->add_option("--pid-file", o.pid_file, "Write the container's host pid here (atomically)");
    c->add_option("--console-socket", o.console_socket,
                  "Unix socket that receives the terminal's master (process.terminal)");
    c->add_flag("--no-pivot", o.no_pivot, "Accepted; gantry always uses pivot_root");
    c->add_flag("--no-new-keyring", o.no_new_keyring, "Accepted; no session keyring is made");
    c->add_option("--preserve-fds", o.preserve_fds, "Accepted; only 0 is supported");
}

void print_json(const nlohmann::json& j) {
    std::printf("%s\n", safe_json::dump_lossy(j, 2).c_str());
}

// update, pause, resume, events, spec: runc's commands on a container's cgroup.
void register_cgroup_commands(CLI::App* oci, Context& ctx, const std::shared_ptr<OciOpts>& o) {
    auto* u = oci->add_subcommand("update", "Change a running container's cgroup limits");
    u->add_option("id", o->update.id, "Container id")->required();
    u->add_option("-r,--resources", o->update.resources_file,
                  "A JSON linux.resources file ('-': stdin)");
    for (const char* flag : {"memory", "memory-swap", "memory-reservation", "pids-limit",
                             "cpu-quota", "cpu-period", "cpu-share", "cpu-shares", "cpu-rt-period",
                             "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "blkio-weight"}) {
        std::string name = flag;
        u->add_option_function<std::string>(
            "--" + name, [o, name](const std::string& v) { o->update.flags[name] = v; },
            "runc's --" + name);
    }
    u->callback([&ctx, o] {
        act(ctx, o, [o] {
            ocirt::update(o->g, o->update);
            return 0;
        });
    });

    auto* pa = oci->add_subcommand("pause", "Freeze every process of a container");
    pa->add_option("id", o->id, "Container id")->required();
    pa->callback([&ctx, o] {
        act(ctx, o, [o] {
            ocirt::pause(o->g, o->id);
            return 0;
        });
    });
    auto* re = oci->add_subcommand("resume", "Thaw a paused container");
    re->add_option("id", o->id, "Container id")->required();
    re->callback([&ctx, o] {
        act(ctx, o, [o] {
            ocirt::resume(o->g, o->id);
            return 0;
        });
    });

    auto* ev = oci->add_subcommand("events", "A container's statistics and OOM events (JSON)");
    ev->add_option("id", o->id, "Container id")->required();
    ev->add_flag("--stats", o->stats, "Print one statistics line and exit");
    ev->add_option("--interval", o->interval, "Between statistics lines (default 5s)");
    ev->callback([&ctx, o] {
        act(ctx, o, [o] {
            if (o->stats) {
                std::printf("%s\n", safe_json::dump_lossy(ocirt::stats(o->g, o->id)).c_str());
                return 0;
            }
            return ocirt::events(o->g, o->id, o->interval);
        });
    });

    auto* sp = oci->add_subcommand("spec", "Write runc's default config.json into the bundle");
    sp->add_option("-b,--bundle", o->bundle, "Bundle directory (default: the current one)");
    sp->add_flag("--rootless", o->spec_rootless, "The variant for a user without privileges");
    sp->callback([&ctx, o] {
        act(ctx, o, [o] {
            ocirt::write_default_spec(o->bundle, o->spec_rootless);
            return 0;
        });
    });
}

} // namespace

void register_oci(CLI::App& app, Context& ctx) {
    auto o = std::make_shared<OciOpts>();
    auto* oci = app.add_subcommand(
        "oci", "The OCI runtime command line (runc's), for podman, containerd and Slurm");
    oci->require_subcommand(1);
    oci->set_version_flag("-v,--version", "gantry-oci version 0.1.0\nspec: 1.0.2");
    oci->add_option("--root", o->g.root,
                    "State directory (default /run/gantry-oci, or $XDG_RUNTIME_DIR/gantry-oci)");
    oci->add_option("--log", o->g.log, "Also write errors to this file");
    oci->add_option("--log-format", o->g.log_format, "text or json")
        ->check(CLI::IsMember({"text", "json"}));
    oci->add_flag("--debug", o->g.debug, "Debug output");
    oci->add_flag("--systemd-cgroup", o->g.systemd_cgroup,
                  "Refused at create: gantry makes cgroups on the cgroup filesystem");
    oci->add_option("--rootless", o->rootless, "Accepted (true, false, auto): detected");
    oci->add_option("--criu", o->rootless, "Accepted; checkpointing is not supported");

    auto* c = oci->add_subcommand("create", "Create a container from a bundle, stopped before "
                                            "its program runs");
    c->add_option("id", o->create.id, "Container id")->required();
    add_create_flags(c, o->create);
    c->callback([&ctx, o] {
        act(ctx, o, [o] {
            ocirt::create(o->g, o->create);
            return 0;
        });
    });

    auto* r = oci->add_subcommand("run", "Create and start a container, and wait for it");
    r->add_option("id", o->create.id, "Container id")->required();
    add_create_flags(r, o->create);
    r->add_flag("-d,--detach", o->detach, "Return once it started");
    r->add_flag("--keep", o->keep, "Do not delete the container after it exits (runc's)");
    r->callback([&ctx, o] {
        act(ctx, o, [o] { return ocirt::run(o->g, o->create, o->detach, o->keep); });
    });

    auto* s = oci->add_subcommand("start", "Run the program of a created container");
    s->add_option("id", o->id, "Container id")->required();
    s->callback([&ctx, o] {
        act(ctx, o, [o] {
            ocirt::start(o->g, o->id);
            return 0;
        });
    });

    auto* st = oci->add_subcommand("state", "Print a container's OCI state (JSON)");
    st->add_option("id", o->id, "Container id")->required();
    st->callback([&ctx, o] {
        act(ctx, o, [o] {
            print_json(ocirt::state(o->g, o->id));
            return 0;
        });
    });

    auto* k = oci->add_subcommand("kill", "Send a signal to a container (default TERM)");
    k->add_option("id", o->id, "Container id")->required();
    k->add_option("signal", o->signal, "Signal name or number");
    k->add_flag("-a,--all", o->all, "Every process of the container");
    k->callback([&ctx, o] {
        act(ctx, o, [o] {
            ocirt::kill(o->g, o->id, o->signal, o->all);
            return 0;
        });
    });

    auto* d = oci->add_subcommand("delete", "Delete a stopped container (--force: any)");
    d->add_option("id", o->id, "Container id (--regex: a pattern of ids)")->required();
    d->add_flag("-f,--force", o->force, "Kill it first if it runs");
    d->add_flag("-r,--regex", o->regex,
                "crun's: delete every container whose id the (POSIX extended) regular "
                "expression matches");
    d->callback([&ctx, o] {
        act(ctx, o, [o] {
            if (!o->regex) {
                ocirt::remove(o->g, o->id, o->force);
                return 0;
            }
            // each one that cannot be deleted is an error line; the others are deleted
            int status = 0;
            for (const auto& f : ocirt::remove_matching(o->g, o->id, o->force))
                status =
                    report(*o, "cannot delete container " + f.id + ": " + f.message, f.hint, 1);
            return status;
        });
    });

    auto* e = oci->add_subcommand("exec", "Run a process in a running container");
    auto& x = o->exec;
    e->add_option("-p,--process", x.process_file, "A runtime-spec process (JSON file)");
    e->add_flag("-t,--tty", x.tty, "Allocate a terminal");
    e->add_flag("-d,--detach", x.detach, "Return once it started");
    e->add_option("--pid-file", x.pid_file, "Write the process's host pid here");
    e->add_option("--console-socket", x.console_socket, "Receives the terminal's master");
    e->add_option("--cwd", x.cwd, "Working directory in the container");
    e->add_option("-e,--env", x.env, "NAME=VALUE (repeatable)")->allow_extra_args(false);
    e->add_option("-u,--user", x.user, "UID[:GID]");
    e->prefix_command(); // ID COMMAND [ARG...]: the command's own flags are not ours
    e->callback([&ctx, o, e] {
        act(
            ctx, o,
            [o, e] {
                auto words = e->remaining();
                if (words.empty()) // runc's usage error: 1, where exec's failures are 255
                    return report(*o, "exec needs a container id",
                                  "gantry-oci exec [OPTIONS] ID [COMMAND [ARG...]]", 1);
                o->exec.id = words[0];
                o->exec.args.assign(words.begin() + 1, words.end());
                return ocirt::exec(o->g, o->exec);
            },
            255, "exec failed: ");
    });

    auto* p = oci->add_subcommand("ps", "List a container's processes");
    p->add_option("id", o->id, "Container id")->required();
    p->add_option("-f,--format", o->format, "table or json")
        ->check(CLI::IsMember({"table", "json"}));
    p->callback([&ctx, o] {
        act(ctx, o, [o] {
            auto pids = ocirt::processes(o->g, o->id);
            if (o->format == "json")
                std::printf("%s\n", safe_json::dump_lossy(pids).c_str());
            else {
                std::printf("PID\n");
                for (int pid : pids) std::printf("%d\n", pid);
            }
            return 0;
        });
    });

    auto* l = oci->add_subcommand("list", "List the containers under --root");
    l->alias("ls");
    l->add_option("-f,--format", o->format, "table or json")
        ->check(CLI::IsMember({"table", "json"}));
    l->add_flag("-q,--quiet", o->quiet, "Only the ids");
    l->callback([&ctx, o] {
        act(ctx, o, [o] {
            auto all = ocirt::list(o->g);
            if (o->format == "json") {
                print_json(all);
                return 0;
            }
            std::vector<std::vector<std::string>> rows;
            if (!o->quiet) rows.push_back({"ID", "PID", "STATUS", "BUNDLE", "CREATED"});
            for (auto& one : all)
                if (o->quiet)
                    rows.push_back({one["id"]});
                else
                    rows.push_back({one["id"], std::to_string(one["pid"].get<int>()), one["status"],
                                    one["bundle"], one["created"]});
            print_table(rows);
            return 0;
        });
    });

    register_cgroup_commands(oci, ctx, o);

    auto* f = oci->add_subcommand("features", "What this runtime implements (JSON, runc's form)");
    f->callback([&ctx, o] {
        act(ctx, o, [] {
            print_json(ocirt::features());
            return 0;
        });
    });
}

} // namespace gantry::cli
