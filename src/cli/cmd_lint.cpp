// Placeholder: replaced by the implementation of `gantry lint`.
#include "cli/context.hpp"
#include "util/error.hpp"

namespace gantry::cli {

void register_lint(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("lint", "(not implemented yet)");
    cmd->callback([&ctx] {
        ctx.action = []() -> int {
            throw Error(Errc::unsupported, "gantry lint is not implemented yet");
        };
    });
}

} // namespace gantry::cli
