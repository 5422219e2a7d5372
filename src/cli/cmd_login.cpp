// Placeholder: replaced by the implementation of `gantry login`.
#include "cli/context.hpp"
#include "util/error.hpp"

namespace gantry::cli {

void register_login(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("login", "(not implemented yet)");
    cmd->callback([&ctx] {
        ctx.action = []() -> int {
            throw Error(Errc::unsupported, "gantry login is not implemented yet");
        };
    });
}

} // namespace gantry::cli
