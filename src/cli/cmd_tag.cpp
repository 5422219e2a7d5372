#include "cli/context.hpp"
#include "store/images.hpp"

namespace gantry::cli {

void register_tag(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string src, dst;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("tag", "Give an image another name");
    cmd->add_option("source", o->src, "Existing image (name or ID)")->required();
    cmd->add_option("target", o->dst, "New name[:tag]")->required();
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            store::tag(ctx.store(), o->src, o->dst);
            return 0;
        };
    });
}

} // namespace gantry::cli
