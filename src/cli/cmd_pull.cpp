// Placeholder: replaced by the implementation of `gantry pull`.
#include "cli/context.hpp"
#include "util/error.hpp"

namespace gantry::cli {

void register_pull(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("pull", "(not implemented yet)");
    cmd->callback([&ctx] {
        ctx.action = []() -> int {
            throw Error(Errc::unsupported, "gantry pull is not implemented yet");
        };
    });
}

} // namespace gantry::cli
