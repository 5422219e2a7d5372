#include "cli/context.hpp"
#include "docker_model/stats.hpp"
#include "docker_model/top.hpp"
#include "records/state.hpp"
#include "util/error.hpp"

#include <cstdio>
#include <memory>

namespace gantry::cli {

void register_top(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand(
        "top", "List a running container's processes (the host's ps, default -ef, its rows for "
               "the container's PID namespace)");
    LazyOptions opts(cmd, ctx.args);
    auto rest = opts.operands("CONTAINER", "The container, then ps's options (default: -ef)",
                              "CONTAINER [ps OPTIONS]");
    cmd->callback([&ctx, rest] {
        ctx.action = [rest = *rest] {
            if (rest.empty())
                throw Error(Errc::usage, "top needs a container", "gantry top NAME [ps OPTIONS]");
            auto s = records::StateDir().get_started(rest[0]);
            std::string table = docker_model::container_top(s, {rest.begin() + 1, rest.end()});
            std::fwrite(table.data(), 1, table.size(), stdout);
            return 0;
        };
    });
}

void register_port(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string name, port;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "port", "List a container's published ports (none: gantry's containers use the host's "
                "network or none)");
    cmd->add_option("container", o->name, "Container name or ID")->required();
    cmd->add_option("port", o->port, "PRIVATE_PORT[/PROTO]");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            auto s = records::StateDir().get(o->name);
            std::string out = docker_model::container_ports(s, o->port);
            std::fwrite(out.data(), 1, out.size(), stdout);
            return 0;
        };
    });
}

void register_stats(CLI::App& app, Context& ctx) {
    auto o = std::make_shared<docker_model::StatsRequest>();
    auto* cmd = app.add_subcommand(
        "stats", "Show containers' CPU, memory, block I/O and process counts (docker's table), "
                 "refreshed each second until interrupted");
    cmd->add_flag("-a,--all", o->all, "Every container, not only the running ones");
    cmd->add_flag_callback(
        "--no-stream", [o] { o->stream = false; },
        "Print one table (two samples 100 ms apart) and exit");
    cmd->add_flag("--no-trunc", o->no_trunc, "Print whole container IDs");
    cmd->add_option("--format", o->format,
                    "docker's Go template: '{{.Name}} {{.CPUPerc}}', 'table ...' or 'json'; "
                    "fields .Container .Name .ID .CPUPerc .MemUsage .MemPerc .NetIO .BlockIO "
                    ".PIDs");
    cmd->add_option("containers", o->containers,
                    "Containers (names or IDs); none: every running one, as they come and go");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            docker_model::print_stats(*o, stdout);
            return 0;
        };
    });
}

} // namespace gantry::cli
