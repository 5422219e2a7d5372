// Placeholder: replaced by the implementation of `gantry slim`.
#include "cli/context.hpp"
#include "util/error.hpp"

namespace gantry::cli {

void register_slim(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("slim", "(not implemented yet)");
    cmd->callback([&ctx] {
        ctx.action = []() -> int {
            throw Error(Errc::unsupported, "gantry slim is not implemented yet");
        };
    });
}

} // namespace gantry::cli
