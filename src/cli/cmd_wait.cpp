#include "cli/context.hpp"
#include "records/state.hpp"
#include "util/error.hpp"

#include <cstdio>

namespace gantry::cli {

void register_wait(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> names;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "wait", "Block until containers stop, then print their exit codes (one line each)");
    cmd->add_option("container", o->names, "Container names or IDs")->required();
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            records::StateDir states;
            for (auto& n : o->names) {
                auto s = states.get(n);
                // the workload, then its monitor recording how it ended
                records::await_exit(s.pid, s.pid_start);
                records::await_exit(s.monitor, s.monitor_start());
                auto end = states.find(s.id);
                if (!end)
                    throw Error(Errc::not_found,
                                "container " + s.name +
                                    " was removed when it ended (as a foreground or a --rm "
                                    "container is, or by `gantry rm`): its exit status was "
                                    "not kept",
                                "start it with `gantry run -d` and without --rm: it then stays, "
                                "with its exit status, until `gantry rm`");
                std::printf("%d\n", end->exit_code);
                std::fflush(stdout);
            }
            return 0;
        };
    });
}

} // namespace gantry::cli
