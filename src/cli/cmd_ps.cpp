#include "cli/context.hpp"
#include "lazy/store_layers.hpp"
#include "oci/image.hpp"
#include "runtime/state.hpp"
#include "util/units.hpp"

#include <cstdio>

namespace gantry::cli {

void register_ps(CLI::App& app, Context& ctx) {
    struct Opts {
        bool all = false, json = false, quiet = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("ps", "List named and detached containers");
    cmd->add_flag("-a,--all", o->all, "Show exited containers too");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->add_flag("-q,--quiet", o->quiet, "Print container IDs only");
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            runtime::StateDir states;
            oci::json out = oci::json::array();
            std::vector<std::vector<std::string>> rows{
                {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"}};
            for (auto& s : states.list()) {
                bool up = s.running();
                if (!up && !o->all) continue;
                std::string status = runtime::status_text(s, up);
                // a lazily pulled image: how much of it is local (lazy/store_layers.hpp)
                std::pair<std::uint64_t, std::uint64_t> bytes;
                std::string lazy = s.manifest.empty() || o->quiet
                                       ? ""
                                       : lazy::local_text(ctx.store(), s.image, &bytes);
                std::string command;
                for (auto& a : s.command) command += (command.empty() ? "" : " ") + a;
                if (o->quiet) {
                    std::printf("%s\n", s.id.c_str());
                } else if (o->json) {
                    out.push_back({{"id", s.id},
                                   {"name", s.name},
                                   {"image", s.image},
                                   {"manifest", s.manifest},
                                   {"command", s.command},
                                   {"created", s.created},
                                   {"status", up ? "running" : s.status},
                                   {"exit_code", s.exit_code},
                                   {"pid", up ? s.pid : 0},
                                   {"finished", s.finished}});
                    if (!lazy.empty())
                        out.back()["lazy"] = {{"local", bytes.first}, {"total", bytes.second}};
                } else {
                    if (command.size() > 30) command = command.substr(0, 27) + "...";
                    rows.push_back({s.id, lazy.empty() ? s.image : s.image + " (" + lazy + ")",
                                    "\"" + command + "\"", units::human_ago(s.created, s.created),
                                    status, s.name});
                }
            }
            return print_listing(o->json, o->quiet, out, rows);
        };
    });
}

} // namespace gantry::cli
