// gantry volume create/inspect/ls/rm/prune: named volumes, docker's local driver (a directory
// per volume under the store, store/volumes.hpp), the same store the Engine API's /volumes
// endpoints keep. run's -v NAME:PATH mounts one (engine/volumes.hpp, made on first use); one a
// container mounts is in use: rm refuses it, prune leaves it.
#include "cli/context.hpp"
#include "docker_model/volumes.hpp"
#include "engine/volumes.hpp"
#include "store/volumes.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

#include <cstdio>

namespace gantry::cli {

namespace {

std::map<std::string, std::string> cli_vol_labels(const std::vector<std::string>& words) {
    std::map<std::string, std::string> out;
    for (auto& w : words) {
        auto eq = w.find('=');
        out[w.substr(0, eq)] = eq == std::string::npos ? "" : w.substr(eq + 1);
    }
    return out;
}

} // namespace

void register_volume(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string name, driver = "local";
        std::vector<std::string> names, labels, filters, driver_opts;
        bool quiet = false, force = false;
    };
    auto o = std::make_shared<Opts>();
    auto* grp = app.add_subcommand("volume", "Manage named volumes (docker's local driver: a "
                                             "directory per volume in the store)");
    grp->require_subcommand(1);

    auto* create = grp->add_subcommand("create", "Create a volume (an existing one is kept)");
    create->add_option("name", o->name, "Volume name (default: a random one)");
    create->add_option("-d,--driver", o->driver, "local, the one driver");
    create->add_option("--label", o->labels, "K=V set on the volume (repeatable)")
        ->allow_extra_args(false);
    create->add_option("-o,--opt", o->driver_opts,
                       "Refused: the local driver's options mount "
                       "something; gantry's volumes are directories");
    create->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            if (o->driver != "local")
                throw Error(Errc::unsupported, "the volume driver " + o->driver + " is not served",
                            "use the local driver (the default)");
            if (!o->driver_opts.empty())
                throw Error(Errc::unsupported,
                            "volume create --opt is not honoured: gantry's volumes are plain "
                            "directories, nothing is mounted",
                            "leave --opt out");
            auto v = store::create_volume(ctx.store(), o->name, cli_vol_labels(o->labels));
            std::printf("%s\n", v.name.c_str());
            return 0;
        };
    });

    auto* inspect = grp->add_subcommand("inspect", "Print volumes as docker's JSON");
    inspect->add_option("name", o->names, "Volume names")->required();
    inspect->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            auto all = nlohmann::json::array();
            for (auto& n : o->names) {
                auto v = store::find_volume(ctx.store(), n);
                if (!v)
                    throw Error(Errc::not_found, "no such volume: " + n,
                                "gantry volume ls lists the volumes");
                all.push_back(docker_model::inspect_volume(*v));
            }
            std::printf("%s\n", safe_json::dump_lossy(all, 4).c_str());
            return 0;
        };
    });

    auto* ls = grp->add_subcommand("ls", "List volumes");
    ls->alias("list");
    ls->add_flag("-q,--quiet", o->quiet, "Only the names");
    ls->add_option("-f,--filter", o->filters, "label=K[=V], name=S, driver=local, dangling=true");
    ls->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            if (!o->quiet) std::printf("%-10s %s\n", "DRIVER", "VOLUME NAME");
            for (auto& v : store::list_volumes(ctx.store())) {
                if (!docker_model::volume_matches(v, o->filters, !engine::volume_users(v).empty()))
                    continue;
                if (o->quiet)
                    std::printf("%s\n", v.name.c_str());
                else
                    std::printf("%-10s %s\n", "local", v.name.c_str());
            }
            return 0;
        };
    });

    auto* rm = grp->add_subcommand("rm", "Remove volumes and their data");
    rm->alias("remove");
    rm->add_option("name", o->names, "Volume names")->required();
    rm->add_flag("-f,--force", o->force,
                 "Accepted (docker's: a volume a container mounts is refused all the same)");
    rm->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            for (auto& n : o->names) {
                if (auto v = store::find_volume(ctx.store(), n)) engine::check_volume_unused(*v);
                store::remove_volume(ctx.store(), n);
                std::printf("%s\n", n.c_str());
            }
            return 0;
        };
    });

    auto* prune =
        grp->add_subcommand("prune", "Remove every volume no container mounts (-f required)");
    prune->add_flag("-f,--force", o->force, "Do not ask (gantry never asks: required)");
    prune->add_option("--filter", o->filters, "label=K[=V]: only these");
    prune->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            if (!o->force)
                throw Error(Errc::usage, "volume prune removes every volume and its data",
                            "add -f to confirm");
            for (auto& v : store::list_volumes(ctx.store())) {
                if (!engine::volume_users(v).empty()) continue; // in use: left
                if (!docker_model::volume_matches(v, o->filters)) continue;
                store::remove_volume(ctx.store(), v.name);
                std::printf("%s\n", v.name.c_str());
            }
            return 0;
        };
    });
}

} // namespace gantry::cli
