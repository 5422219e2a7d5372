// gantry diff CONTAINER: what the container changed in its image's filesystem, as docker's
// (image_build/container_changes.hpp); --json as the Engine API's /containers/{id}/changes.
#include "cli/context.hpp"
#include "image_build/container_changes.hpp"
#include "records/state.hpp"

#include <cstdio>

namespace gantry::cli {

void register_diff(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string name;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "diff", "List the files a container added (A), changed (C) or deleted (D) in its image");
    cmd->add_option("container", o->name, "Container name or ID")->required();
    cmd->add_flag("--json", o->json,
                  "Print the changes as the Engine API gives them ([{\"Path\", \"Kind\"}])");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            auto changes = image_build::container_changes(records::StateDir().get(o->name));
            if (o->json) {
                nlohmann::json out = nlohmann::json::array();
                for (auto& c : changes) out.push_back({{"Path", c.path}, {"Kind", c.api_kind()}});
                std::printf("%s\n", out.dump().c_str());
            } else {
                for (auto& c : changes) std::printf("%c %s\n", c.kind, c.path.c_str());
            }
            return 0;
        };
    });
}

} // namespace gantry::cli
