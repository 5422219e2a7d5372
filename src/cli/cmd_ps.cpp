#include "cli/context.hpp"
#include "oci/image.hpp"
#include "runtime/state.hpp"
#include "util/units.hpp"

#include <cstdint>
#include <cstdio>
#include <ctime>

namespace gantry::cli {

namespace {

// How long ago an RFC 3339 UTC time of gantry's state was, in docker's words ("" if unreadable).
std::string ago(const std::string& when) {
    struct tm tm {};
    const char* end = ::strptime(when.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end) return "";
    return units::human_duration(static_cast<std::int64_t>(std::time(nullptr) - ::timegm(&tm)));
}

} // namespace

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
        ctx.action = [o] {
            runtime::StateDir states;
            oci::json out = oci::json::array();
            std::vector<std::vector<std::string>> rows{
                {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"}};
            for (auto& s : states.list()) {
                bool up = s.running();
                if (!up && !o->all) continue;
                // docker's words: "Up 5 minutes", "Exited (0) 2 hours ago"
                std::string since = ago(s.created), ended = ago(s.finished);
                std::string status = up ? (since.empty() ? "Up" : "Up " + since)
                                     : s.status == "exited"
                                         ? "Exited (" + std::to_string(s.exit_code) + ")" +
                                               (ended.empty() ? "" : " " + ended + " ago")
                                         : s.status;
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
                } else {
                    if (command.size() > 30) command = command.substr(0, 27) + "...";
                    rows.push_back({s.id, s.image, "\"" + command + "\"",
                                    since.empty() ? s.created : since + " ago", status, s.name});
                }
            }
            if (o->json)
                std::printf("%s\n", out.dump(2).c_str());
            else if (!o->quiet)
                print_table(rows);
            return 0;
        };
    });
}

} // namespace gantry::cli
