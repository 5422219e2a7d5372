// gantry network create/ls/inspect/rm/prune/connect/disconnect: user-defined networks
// (network/user_network.hpp: a bridge and DNS per network, through netavark), the same store
// the Engine API's /networks endpoints keep (engine/user_networks.hpp); and the hidden
// __network-holder, the process that holds the networks' namespace (network/holder.hpp).
#include "cli/context.hpp"
#include "engine/network_connect.hpp"
#include "engine/networks.hpp"
#include "engine/user_networks.hpp"
#include "network/addresses.hpp"
#include "network/holder.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

#include <cstdio>

namespace gantry::cli {

namespace {

std::map<std::string, std::string> cli_net_pairs(const std::vector<std::string>& words) {
    std::map<std::string, std::string> out;
    for (auto& w : words) {
        auto eq = w.find('=');
        out[w.substr(0, eq)] = eq == std::string::npos ? "" : w.substr(eq + 1);
    }
    return out;
}

} // namespace

void register_network(CLI::App& app, Context& ctx) {
    struct Opts {
        network::CreateRequest create;
        std::vector<std::string> names, labels, filters, opts, aliases, subnets, gateways;
        std::string subnet_list, format, network, container, ip, ip6;
        bool quiet = false, force = false;
    };
    auto o = std::make_shared<Opts>();
    auto* grp = app.add_subcommand(
        "network", "Manage user-defined networks (a bridge with DNS per network, netavark's)");
    grp->require_subcommand(1);

    auto* create = grp->add_subcommand("create", "Create a network");
    create->add_option("name", o->create.name, "Network name")->required();
    create->add_option("-d,--driver", o->create.driver, "bridge, the one driver");
    create
        ->add_option("--subnet", o->subnets,
                     "Subnet in CIDR form, one IPv4 (default: a free 10.89.N.0/24) and, with "
                     "--ipv6, one IPv6 (default: a unique local fdXX:XXXX:XXXX::/64)")
        ->allow_extra_args(false);
    create
        ->add_option("--gateway", o->gateways,
                     "Gateway of each subnet (default: its first address)")
        ->allow_extra_args(false);
    create->add_option("--ip-range", o->create.ip_range,
                       "Refused: containers take addresses of the whole subnet");
    create->add_flag("--internal", o->create.internal, "No route out of the network");
    create->add_flag("--ipv6", o->create.ipv6,
                     "IPv6 beside IPv4: an IPv6 subnet, containers get an address of each "
                     "(refused where the host has no IPv6)");
    create->add_option("--label", o->labels, "K=V set on the network (repeatable)")
        ->allow_extra_args(false);
    create->add_option("-o,--opt", o->opts, "Refused: no driver option is honoured")
        ->allow_extra_args(false);
    create->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            auto r = o->create;
            r.labels = cli_net_pairs(o->labels);
            r.options = cli_net_pairs(o->opts);
            // docker's: one subnet (and gateway) of each family, told apart by their form
            auto by_family = [](const std::vector<std::string>& given, const char* flag,
                                std::string& v4, std::string& v6) {
                for (auto& w : given) {
                    std::string& into = network::ipv6_form(w) ? v6 : v4;
                    if (!into.empty())
                        throw Error(Errc::usage,
                                    std::string(flag) + " " + into + " and " + w +
                                        ": one of each family (IPv4, IPv6)",
                                    "give one IPv4 and, with --ipv6, one IPv6 " +
                                        std::string(flag));
                    into = w;
                }
            };
            by_family(o->subnets, "--subnet", r.subnet, r.subnet6);
            by_family(o->gateways, "--gateway", r.gateway, r.gateway6);
            auto n = engine::create_network(ctx.store(), r);
            std::printf("%s\n", n.id.c_str());
            return 0;
        };
    });

    auto* inspect = grp->add_subcommand("inspect", "Print networks as docker's JSON");
    inspect->add_option("name", o->names, "Network names or ids")->required();
    inspect->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            auto all = nlohmann::json::array();
            for (auto& n : o->names) all.push_back(engine::inspect_network(ctx.store(), n));
            std::printf("%s\n", safe_json::dump_lossy(all, 4).c_str());
            return 0;
        };
    });

    auto* ls = grp->add_subcommand("ls", "List networks");
    ls->alias("list");
    ls->add_flag("-q,--quiet", o->quiet, "Only the ids");
    ls->add_option("-f,--filter", o->filters,
                   "name=S, id=PREFIX, driver=D, label=K[=V], type=custom|builtin, "
                   "dangling=true|false");
    ls->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            if (!o->quiet)
                std::printf("%-12s   %-20s %-10s %s\n", "NETWORK ID", "NAME", "DRIVER", "SCOPE");
            for (auto& n : engine::list_networks(ctx.store(), o->filters)) {
                const std::string id = n["Id"].get<std::string>().substr(0, 12), name = n["Name"],
                                  driver = n["Driver"];
                if (o->quiet)
                    std::printf("%s\n", id.c_str());
                else
                    std::printf("%-12s   %-20s %-10s %s\n", id.c_str(), name.c_str(),
                                driver.c_str(), "local");
            }
            return 0;
        };
    });

    auto* rm = grp->add_subcommand("rm", "Remove networks no running container is on");
    rm->alias("remove");
    rm->add_option("name", o->names, "Network names or ids")->required();
    rm->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            for (auto& n : o->names)
                std::printf("%s\n", engine::remove_network(ctx.store(), n).c_str());
            return 0;
        };
    });

    auto* prune = grp->add_subcommand(
        "prune", "Remove every user network no running container is on (-f required)");
    prune->add_flag("-f,--force", o->force, "Do not ask (gantry never asks: required)");
    prune->add_option("--filter", o->filters, "label=K[=V]: only these");
    prune->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            if (!o->force)
                throw Error(Errc::usage, "network prune removes every unused network",
                            "add -f to confirm");
            for (auto& n : engine::prune_networks(ctx.store(), o->filters))
                std::printf("%s\n", n.c_str());
            return 0;
        };
    });

    auto* connect = grp->add_subcommand(
        "connect", "Connect a container to a user network (running: at once; else at its start)");
    connect->add_option("network", o->network, "The network's name or id")->required();
    connect->add_option("container", o->container, "The container's name or id")->required();
    connect->add_option("--alias", o->aliases, "A name it answers to on this network (repeatable)")
        ->allow_extra_args(false);
    connect->add_option("--ip", o->ip, "Its IPv4 address on the network (of the subnet)");
    connect->add_option("--ip6", o->ip6, "Its IPv6 address on the network (of its IPv6 subnet)");
    connect->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            engine::connect_network(ctx.store(), o->network, o->container, o->aliases, o->ip,
                                    o->ip6);
            return 0;
        };
    });
    auto* disconnect = grp->add_subcommand(
        "disconnect", "Disconnect a container from a user network (running: at once)");
    disconnect->add_option("network", o->network, "The network's name or id")->required();
    disconnect->add_option("container", o->container, "The container's name or id")->required();
    disconnect->add_flag("-f,--force", o->force,
                         "Accepted as docker's (a running container's endpoint is always removed)");
    disconnect->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            engine::disconnect_network(ctx.store(), o->network, o->container);
            return 0;
        };
    });
}

// hidden: the holder of a store's user networks' namespace, started by a container's start
void register_network_holder(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string dir, uids, gids;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("__network-holder", "Hold the user networks' namespace");
    cmd->group(""); // hidden
    cmd->add_option("dir", o->dir, "Its directory")->required();
    cmd->add_option("uids", o->uids, "Its uid maps")->required();
    cmd->add_option("gids", o->gids, "Its gid maps")->required();
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            return network::serve_holder(o->dir, o->uids == "-" ? "" : o->uids,
                                         o->gids == "-" ? "" : o->gids, 3);
        };
    });
}

} // namespace gantry::cli
