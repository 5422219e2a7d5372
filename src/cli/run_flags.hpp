// run's flags, bound to an engine::RunRequest: `gantry run` and `gantry create` take the same
// (create has no -d: a created container is started detached, or attached by `start -a`).
#pragma once

#include "cli/context.hpp"
#include "engine/run_request.hpp"

#include <memory>
#include <string>
#include <vector>

namespace gantry::cli {

struct RunFlags {
    std::shared_ptr<std::vector<std::string>> rest; // IMAGE [COMMAND [ARG...]]
    std::shared_ptr<bool> tls = std::make_shared<bool>(true);
    CLI::Option* tls_opt = nullptr; // --tls-verify, when the line names it
};
// TEST: `gantry test`'s operands (IMAGE [ARG...]: the test script's arguments)
RunFlags add_run_flags(CLI::App* cmd, Context& ctx, const std::shared_ptr<engine::RunRequest>& f,
                       bool create, bool test = false);

} // namespace gantry::cli
