// Placeholder: replaced by the implementation of `gantry push`.
#include "cli/context.hpp"
#include "util/error.hpp"

namespace gantry::cli {

void register_push(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("push", "(not implemented yet)");
    cmd->callback([&ctx] {
        ctx.action = []() -> int {
            throw Error(Errc::unsupported, "gantry push is not implemented yet");
        };
    });
}

} // namespace gantry::cli
