#include "cli/context.hpp"
#include "engine/docker_flags.hpp"
#include "runtime/events.hpp"
#include "runtime/state.hpp"
#include "store/owned_tree.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstdio>
#include <optional>

namespace gantry::cli {

void register_stop(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> names;
        double timeout = -1; // unset: the container's --stop-timeout, else 10
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "stop", "Stop running containers (SIGTERM or run's --stop-signal, then SIGKILL)");
    cmd->add_option("container", o->names, "Container names or IDs")->required();
    cmd->add_option("-t,--time", o->timeout,
                    "Seconds to wait before SIGKILL (default: run's --stop-timeout, else 10)");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            runtime::StateDir states;
            for (auto& n : o->names) {
                auto s = states.get(n);
                runtime::stop(s, o->timeout >= 0 ? std::optional(o->timeout) : std::nullopt);
                runtime::EventJournal().append(runtime::container_event(s, "stop"));
                std::printf("%s\n", n.c_str());
            }
            return 0;
        };
    });
}

void register_kill(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> names;
        std::string signal = "KILL";
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "kill", "Send a signal to running containers' first process (SIGKILL by default)");
    cmd->add_option("container", o->names, "Container names or IDs")->required();
    cmd->add_option("-s,--signal", o->signal,
                    "Signal to send: a name (HUP, SIGHUP) or a number (default KILL)");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            int sig = engine::signal_number(o->signal, "--signal");
            runtime::StateDir states;
            for (auto& n : o->names) {
                runtime::kill_container(states.get(n), sig);
                std::printf("%s\n", n.c_str());
            }
            return 0;
        };
    });
}

void register_rm(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> names;
        bool force = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("rm", "Remove containers");
    cmd->add_option("container", o->names, "Container names or IDs")->required();
    cmd->add_flag("-f,--force", o->force, "Kill a running container first");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            runtime::StateDir states;
            for (auto& n : o->names) {
                auto s = states.get(n);
                if (s.running() && !o->force)
                    throw Error(Errc::conflict, "container " + s.name + " is running",
                                "stop it first (`gantry stop " + s.name + "`) or use rm -f");
                runtime::remove_container(states, s);
                if (!s.container_dir.empty()) store::remove_owned_tree(s.container_dir);
                if (!s.store_root.empty()) store::Store(s.store_root).remove_hold(s.id);
                std::printf("%s\n", n.c_str());
            }
            return 0;
        };
    });
}

} // namespace gantry::cli
