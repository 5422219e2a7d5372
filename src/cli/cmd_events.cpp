#include "cli/context.hpp"
#include "docker_model/events.hpp"
#include "records/events.hpp"
#include "records/state.hpp"

#include <cstdio>

namespace gantry::cli {

void register_events(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> filters;
        std::string format, since, until;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "events", "Print container events (create, start, die, kill, stop, destroy) as they "
                  "happen, from every gantry process of this user (no daemon: a journal)");
    cmd->add_option("-f,--filter", o->filters,
                    "docker's filters: container=NAME|ID, event=ACTION, image=, "
                    "label=KEY[=VALUE], type=container (one key repeated: any; different keys: "
                    "all)")
        ->allow_extra_args(false);
    cmd->add_option("--format", o->format,
                    "A Go template over docker's event ({{.Action}} {{.Actor.Attributes.name}} "
                    "...), or 'json'");
    cmd->add_option("--since", o->since,
                    "Events since this time (Unix seconds, RFC 3339, or a duration before now "
                    "such as 10m); default: from now");
    cmd->add_option("--until", o->until, "Stop once this time has passed (the same forms)");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            std::int64_t now = records::realtime_nanos();
            std::int64_t since = o->since.empty()
                                     ? records::process_started_nanos()
                                     : docker_model::event_time(o->since, now, "--since");
            std::optional<std::int64_t> until;
            if (!o->until.empty()) until = docker_model::event_time(o->until, now, "--until");
            docker_model::EventFilter filter(o->filters);
            std::optional<gotemplate::Format> format;
            if (!o->format.empty()) format = docker_model::events_format(o->format);
            records::EventReader reader(records::runtime_dir());
            docker_model::stream_events(reader, filter, since, until, [&](const nlohmann::json& m) {
                std::string line = format ? format->render({m}) : docker_model::event_line(m);
                std::fwrite(line.data(), 1, line.size(), stdout);
                std::fflush(stdout);
            });
            return 0;
        };
    });
}

} // namespace gantry::cli
