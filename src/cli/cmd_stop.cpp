#include "cli/context.hpp"
#include "docker_model/filters.hpp"
#include "docker_model/words.hpp"
#include "engine/docker_flags.hpp"
#include "engine/removal.hpp"
#include "records/events.hpp"
#include "records/state.hpp"
#include "store/owned_tree.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>
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
            records::StateDir states;
            for (auto& n : o->names) {
                auto s = states.get(n);
                records::stop(s, o->timeout >= 0 ? std::optional(o->timeout) : std::nullopt);
                records::EventJournal().append(records::container_event(s, "stop"));
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
            records::StateDir states;
            for (auto& n : o->names) {
                records::kill_container(states.get(n), sig);
                std::printf("%s\n", n.c_str());
            }
            return 0;
        };
    });
}

// pause (UNPAUSE false) or unpause (true)
void register_freezer_verb(CLI::App& app, Context& ctx, bool unpause) {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* cmd = app.add_subcommand(
        unpause ? "unpause" : "pause",
        unpause ? "Thaw paused containers (their cgroup's freezer)"
                : "Freeze running containers' processes (their cgroup's freezer, as docker's "
                  "pause)");
    cmd->add_option("container", *names, "Container names or IDs")->required();
    cmd->callback([&ctx, names, unpause] {
        ctx.action = [names, unpause] {
            records::StateDir states;
            for (auto& n : *names) {
                auto s = states.get(n);
                if (unpause)
                    records::unpause_container(s);
                else
                    records::pause_container(s);
                std::printf("%s\n", n.c_str());
            }
            return 0;
        };
    });
}

void register_pause(CLI::App& app, Context& ctx) {
    register_freezer_verb(app, ctx, false);
}
void register_unpause(CLI::App& app, Context& ctx) {
    register_freezer_verb(app, ctx, true);
}

void register_rm(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> names;
        bool force = false, volumes = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("rm", "Remove containers");
    cmd->add_option("container", o->names, "Container names or IDs")->required();
    cmd->add_flag("-f,--force", o->force, "Kill a running container first");
    cmd->add_flag("-v,--volumes", o->volumes,
                  "Remove the container's anonymous volumes too (named ones stay)");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            records::StateDir states;
            for (auto& n : o->names) {
                auto s = states.get(n);
                if (s.running() && !o->force)
                    throw Error(Errc::conflict, "container " + s.name + " is running",
                                "stop it first (`gantry stop " + s.name + "`) or use rm -f");
                engine::remove_whole_container(states, s, o->volumes);
                std::printf("%s\n", n.c_str());
            }
            return 0;
        };
    });
}

namespace {

// docker's question before a prune; an answer other than y or yes (an empty or closed standard
// input among them) is no. Read from standard input whatever it is, as docker does, so that
// `echo y | gantry container prune` answers it.
bool confirmed(const char* warning) {
    std::printf("WARNING! %s\nAre you sure you want to continue? [y/N] ", warning);
    std::fflush(stdout);
    char line[64] = {};
    std::string answer = std::fgets(line, sizeof line, stdin) ? line : "";
    while (!answer.empty() && std::isspace(static_cast<unsigned char>(answer.back())))
        answer.pop_back();
    for (auto& c : answer) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return answer == "y" || answer == "yes";
}

} // namespace

// docker's `container prune` (its own command word, as `builder prune`)
void register_container(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> filters;
        bool force = false;
    };
    auto o = std::make_shared<Opts>();
    auto* group = app.add_subcommand("container", "docker's container group: `container prune` "
                                                  "(its other verbs are gantry's own commands)");
    group->require_subcommand(1);
    auto* prune = group->add_subcommand(
        "prune", "Remove every container that is not running (docker's container prune)");
    prune->add_flag("-f,--force", o->force, "Do not prompt for confirmation");
    prune->add_option("--filter", o->filters,
                      "until=DURATION (created longer ago, e.g. 24h), label=KEY[=VALUE], "
                      "label!=KEY[=VALUE]");
    prune->callback([&ctx, o] {
        ctx.action = [o] {
            docker_model::PruneFilter filter(o->filters,
                                             static_cast<std::int64_t>(std::time(nullptr)));
            if (!o->force && !confirmed("This will remove all stopped containers.")) return 0;
            records::StateDir states;
            auto r = engine::prune_containers(
                states, [&](const records::ContainerState& s) { return filter.matches(s); });
            if (!r.ids.empty()) {
                std::printf("Deleted Containers:\n");
                for (auto& id : r.ids) std::printf("%s\n", id.c_str());
                std::printf("\n");
            }
            std::printf("Total reclaimed space: %s\n", docker_model::docker_size(r.bytes).c_str());
            return 0;
        };
    });
}

} // namespace gantry::cli
