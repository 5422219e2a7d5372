#include "cli/context.hpp"
#include "runtime/state.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <chrono>
#include <cstdio>
#include <signal.h>
#include <thread>
#include <unistd.h>

namespace gantry::cli {

namespace {

template <class Done>
bool wait_for(Done done, double seconds) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!done()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

// SIGTERM, then SIGKILL after `timeout` seconds (docker's stop). Returns once its monitor has
// recorded the end too (or, for a --rm container, removed it), so that `ps`, `rm` or a new
// container of the same name that follow never race with it.
void stop_container(const runtime::ContainerState& s, double timeout) {
    auto gone = [&] { return !runtime::process_running(s.pid, s.pid_start); };
    if (s.running()) {
        ::kill(s.pid, SIGTERM);
        if (!wait_for(gone, timeout)) {
            ::kill(s.pid, SIGKILL);
            if (!wait_for(gone, 10))
                throw Error(Errc::internal, "container " + s.name + " (pid " +
                                                std::to_string(s.pid) +
                                                ") did not exit after SIGKILL");
        }
    }
    wait_for([&] { return !s.monitor_alive(); }, 10);
}

} // namespace

void register_stop(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> names;
        double timeout = 10;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("stop", "Stop running containers (SIGTERM, then SIGKILL)");
    cmd->add_option("container", o->names, "Container names or IDs")->required();
    cmd->add_option("-t,--time", o->timeout, "Seconds to wait before SIGKILL (default 10)");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            runtime::StateDir states;
            for (auto& n : o->names) {
                auto s = states.get(n);
                stop_container(s, o->timeout);
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
                stop_container(s, 0); // kills it (-f), and lets its monitor finish
                states.remove(s.name);
                if (!s.container_dir.empty()) fs::remove_tree(s.container_dir);
                if (!s.store_root.empty()) store::Store(s.store_root).remove_hold(s.id);
                std::printf("%s\n", n.c_str());
            }
            return 0;
        };
    });
}

} // namespace gantry::cli
