// `gantry history` (docker's: an image's history entries, newest first).
#include "cli/context.hpp"
#include "oci/image.hpp"
#include "store/images.hpp"
#include "store/platforms.hpp"
#include "util/units.hpp"

#include <cstdio>

namespace gantry::cli {

void register_history(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string ref, platform;
        bool json = false, quiet = false, no_trunc = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "history", "Show an image's history: the step that made each layer, newest first");
    cmd->add_option("image", o->ref, "Image (name or ID)")->required();
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->add_flag("-q,--quiet", o->quiet, "Print the image ID only (docker's)");
    cmd->add_flag("--no-trunc", o->no_trunc, "Do not shorten the steps and IDs");
    cmd->add_option("--platform", o->platform,
                    "OS/ARCH[/VARIANT]: the history of that platform's image of a name holding "
                    "several (docker 28's; default: the name's default image)");
    cmd->footer("SIZE is the layer blob's size as stored (compressed), as `gantry images` counts "
                "it; a step that made no layer shows 0B. Only the newest line has an ID: gantry "
                "keeps no intermediate images (docker shows <missing> there too).");
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            auto img =
                o->platform.empty()
                    ? store::find_image(ctx.store(), o->ref)
                    : store::read_image(ctx.store(),
                                        store::resolve_platform(ctx.store(), o->ref,
                                                                oci::Platform::parse(o->platform)));
            auto lines = store::history(img);
            const std::string id = o->no_trunc ? img.id().str() : img.id().short_id();
            if (o->quiet) {
                std::printf("%s\n", id.c_str());
                return 0;
            }
            oci::json out = oci::json::array();
            std::vector<std::vector<std::string>> rows{
                {"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"}};
            for (std::size_t i = 0; i < lines.size(); ++i) {
                const auto& l = lines[i];
                if (o->json) {
                    out.push_back(
                        {{"id", i == 0 ? oci::json(img.id().str()) : oci::json()},
                         {"created", l.entry.created},
                         {"created_by", l.entry.created_by},
                         {"empty_layer", !l.diff_id},
                         {"diff_id", l.diff_id ? oci::json(l.diff_id->str()) : oci::json()},
                         {"size", l.size},
                         {"comment", l.entry.comment}});
                    continue;
                }
                std::string by = l.entry.created_by;
                if (!o->no_trunc && by.size() > 45) by = by.substr(0, 44) + "…";
                rows.push_back({i == 0 ? id : "<missing>",
                                units::human_ago(l.entry.created, l.entry.created.substr(0, 19)),
                                by, human_size(static_cast<std::uint64_t>(l.size)),
                                l.entry.comment});
            }
            return print_listing(o->json, false, out, rows);
        };
    });
}

} // namespace gantry::cli
