#include "cli/context.hpp"
#include "docker_model/containers.hpp"
#include "docker_model/filters.hpp"
#include "lazy/store_layers.hpp"
#include "oci/image.hpp"
#include "records/state.hpp"
#include "store/images.hpp"
#include "util/printable.hpp"
#include "util/units.hpp"

#include <cstdio>

namespace gantry::cli {

void register_ps(CLI::App& app, Context& ctx) {
    struct Opts {
        bool all = false, json = false, quiet = false, no_trunc = false;
        std::string format;
        std::vector<std::string> filters;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("ps", "List named and detached containers");
    cmd->add_flag("-a,--all", o->all, "Show exited containers too");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->add_flag("-q,--quiet", o->quiet, "Print container IDs only");
    cmd->add_flag("--no-trunc", o->no_trunc, "Do not shorten the command (--format's .Command)");
    cmd->add_option("-f,--filter", o->filters,
                    "docker's filters: label=KEY[=VALUE], name=, id=, status=, exited=, "
                    "ancestor=IMAGE, before=, since=CONTAINER (label= repeated: all; another key "
                    "repeated: any; different keys: all)")
        ->allow_extra_args(false);
    cmd->add_option("--format", o->format,
                    "A Go template over docker's fields ({{.ID}} {{.Names}} {{.Label \"k\"}} "
                    "...), 'table ...' or 'json'");
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            refuse_json_with_format(o->json, o->format);
            records::StateDir states;
            auto all = states.snapshots();
            std::optional<docker_model::ContainerFilter> filter;
            if (!o->filters.empty())
                filter.emplace(o->filters, all, [&ctx](const std::string& ref) {
                    try {
                        return std::optional<std::string>(
                            store::find_image(ctx.store(), ref).manifest_digest.str());
                    } catch (const Error& e) {
                        if (e.code() == Errc::not_found || e.code() == Errc::invalid)
                            return std::optional<std::string>(); // matched by name only
                        throw;
                    }
                });
            bool show_stopped = o->all || (filter && filter->wants_stopped());
            oci::json out = oci::json::array();
            std::vector<oci::json> formatted;
            std::vector<std::vector<std::string>> rows{
                {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"}};
            for (auto& snapshot : all) {
                const auto& s = *snapshot;
                bool up = s.running();
                if (!up && !show_stopped) continue;
                if (filter && !filter->matches(s, up)) continue;
                if (o->quiet) {
                    std::printf("%s\n", s.id.c_str());
                    continue;
                }
                if (!o->format.empty()) {
                    formatted.push_back(docker_model::ps_row(s, up, o->no_trunc));
                    continue;
                }
                std::string status = records::status_text(s, up);
                // a lazily pulled image: how much of it is local (lazy/store_layers.hpp)
                std::pair<std::uint64_t, std::uint64_t> bytes;
                std::string lazy =
                    s.manifest.empty() ? "" : lazy::local_text(ctx.store(), s.image, &bytes);
                std::string command;
                for (auto& a : s.command) command += (command.empty() ? "" : " ") + a;
                if (o->json) {
                    out.push_back({{"id", s.id},
                                   {"name", s.name},
                                   {"image", s.image},
                                   {"manifest", s.manifest},
                                   {"command", s.command},
                                   {"created", s.created},
                                   {"status", up ? "running" : s.status},
                                   {"exit_code", s.exit_code},
                                   {"pid", up ? s.pid : 0},
                                   {"finished", s.finished},
                                   {"labels", s.labels}});
                    if (!lazy.empty())
                        out.back()["lazy"] = {{"local", bytes.first}, {"total", bytes.second}};
                } else {
                    if (command.size() > 30 && !o->no_trunc)
                        command = command.substr(0, 27) + "...";
                    rows.push_back({s.id, lazy.empty() ? s.image : s.image + " (" + lazy + ")",
                                    text::quote(command), units::human_ago(s.created, s.created),
                                    status, s.name});
                }
            }
            if (!o->format.empty() && !o->quiet)
                return print_formatted(o->format, docker_model::ps_listing(), formatted);
            return print_listing(o->json, o->quiet, out, rows);
        };
    });
}

} // namespace gantry::cli
