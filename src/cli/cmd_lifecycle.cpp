// `gantry create`, `start`, `restart`, `rename` and `cp`: their flags, and one call each into the
// engine (engine/lifecycle.hpp, engine/copy.hpp).
#include "cli/context.hpp"
#include "cli/run_flags.hpp"
#include "engine/apptainer_run.hpp"
#include "engine/copy.hpp"
#include "engine/engine.hpp"
#include "engine/health.hpp"
#include "engine/lifecycle.hpp"
#include "engine/options.hpp"
#include "util/error.hpp"

#include <cstdio>
#include <optional>
#include <unistd.h>

namespace gantry::cli {

void register_create(CLI::App& app, Context& ctx) {
    auto f = std::make_shared<engine::RunRequest>();
    auto* cmd = app.add_subcommand(
        "create", "Create a container from an image without starting it (`gantry start` does); "
                  "run's flags; prints its ID");
    auto flags = add_run_flags(cmd, ctx, f, true);
    cmd->callback([&ctx, f, flags] {
        if (flags.tls_opt && flags.tls_opt->count()) f->tls_verify = *flags.tls;
        ctx.action = [&ctx, f, rest = *flags.rest] {
            if (rest.empty())
                throw Error(Errc::usage, "create needs an image",
                            "gantry create [OPTIONS] IMAGE [COMMAND...]");
            f->image = rest[0];
            f->image_stores = ctx.image_stores;
            f->command.assign(rest.begin() + 1, rest.end());
            engine::fold_apptainer_gpu_flags(*f);
            f->apptainer_env = engine::apptainer_env_from(environ);
            auto caller = ctx.caller ? std::move(*ctx.caller) : engine::Caller::current();
            auto id = engine::create(ctx.store(), std::move(*f), std::move(caller));
            std::printf("%s\n", id.c_str());
            return 0;
        };
    });
}

// hidden: the start a detached container's restart policy asks for, begun by its monitor
void register_restart_by_policy(CLI::App& app, Context& ctx) {
    auto id = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("__restart", "Start a container its restart policy restarts");
    cmd->group(""); // hidden
    cmd->add_option("id", *id, "The container's ID")->required();
    cmd->callback([&ctx, id] {
        ctx.action = [id] {
            engine::restart_by_policy(*id, engine::Caller::current());
            return 0;
        };
    });
}

// hidden: the health checker of a running container, begun by its launcher
void register_health_checker(CLI::App& app, Context& ctx) {
    auto id = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("__health", "Run a container's health checks");
    cmd->group(""); // hidden
    cmd->add_option("id", *id, "The container's ID")->required();
    cmd->callback([&ctx, id] {
        ctx.action = [id] {
            engine::run_health_checks(*id);
            return 0;
        };
    });
}

void register_start(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> names;
        bool attach = false, interactive = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "start", "Start created or stopped containers (on their same writable layer when it is "
                 "kept on disk)");
    cmd->add_option("container", o->names, "Container names or IDs")->required();
    cmd->add_flag("-a,--attach", o->attach,
                  "Run it in the foreground: its stdout and stderr attached, its exit status "
                  "gantry's");
    cmd->add_flag("-i,--interactive", o->interactive, "Attach its stdin too (implies -a)");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            bool attach = o->attach || o->interactive;
            if (attach && o->names.size() > 1)
                throw Error(Errc::usage, "you cannot start and attach multiple containers at once",
                            "start them one by one");
            int status = 0;
            for (auto& n : o->names) {
                auto out = engine::start(n, engine::Caller::current(),
                                         engine::StartOptions{o->attach, o->interactive});
                if (attach) {
                    status = out.status;
                } else {
                    std::printf("%s\n", n.c_str());
                    std::fflush(stdout);
                }
            }
            return status;
        };
    });
}

void register_restart(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> names;
        double timeout = -1;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "restart", "Restart containers: stop (as `gantry stop`) then start them, detached");
    cmd->add_option("container", o->names, "Container names or IDs")->required();
    cmd->add_option("-t,--time", o->timeout,
                    "Seconds to wait before SIGKILL (default: run's --stop-timeout, else 10)");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            for (auto& n : o->names) {
                engine::restart(n, engine::Caller::current(),
                                o->timeout >= 0 ? std::optional(o->timeout) : std::nullopt);
                std::printf("%s\n", n.c_str());
                std::fflush(stdout);
            }
            return 0;
        };
    });
}

void register_rename(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string name, new_name;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("rename", "Rename a container (running or not)");
    cmd->add_option("container", o->name, "The container's name or ID")->required();
    cmd->add_option("new_name", o->new_name, "Its new name")->required();
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            engine::rename(o->name, o->new_name);
            return 0;
        };
    });
}

void register_cp(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string src, dest;
        engine::CopyOptions copy;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "cp", "Copy files between a running container and the host (CONTAINER:PATH; - is a tar "
              "stream on stdin or stdout)");
    cmd->add_option("src", o->src, "CONTAINER:SRC, SRC or -")->required();
    cmd->add_option("dest", o->dest, "CONTAINER:DEST, DEST or -")->required();
    cmd->add_flag("-L,--follow-link", o->copy.follow_link, "Follow SRC when it is a symbolic link");
    cmd->add_flag("-a,--archive", o->copy.archive,
                  "Refused: files take your user's owner (root inside a rootless container)");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            engine::copy(o->src, o->dest, o->copy);
            return 0;
        };
    });
}

} // namespace gantry::cli
