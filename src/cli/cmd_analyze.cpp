// Placeholder: replaced by the implementation of `gantry analyze`.
#include "cli/context.hpp"
#include "util/error.hpp"

namespace gantry::cli {

void register_analyze(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("analyze", "(not implemented yet)");
    cmd->callback([&ctx] {
        ctx.action = []() -> int {
            throw Error(Errc::unsupported, "gantry analyze is not implemented yet");
        };
    });
}

} // namespace gantry::cli
