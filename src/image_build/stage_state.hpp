// The state of one stage while it builds: the image config (Env, WorkingDir, User, Labels,
// ExposedPorts, Entrypoint, Cmd, Volumes, StopSignal), the stage's ARGs with their values, and
// the SHELL. It applies the instructions that change only the config (ENV, ARG, WORKDIR, USER,
// LABEL, EXPOSE, ENTRYPOINT, CMD, VOLUME, STOPSIGNAL, SHELL) with BuildKit's rules: words
// expanded against ARGs then ENV (ENV wins), ARG values from --build-arg, the default, or the
// global ARG of that name; CMD/ENTRYPOINT shell form wrapped in the SHELL; ENTRYPOINT resets an
// inherited CMD. Each applied instruction gives the history entry's created_by (empty_layer).
#pragma once

#include "dockerfile/dockerfile.hpp"
#include "dockerfile/words.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gantry::image_build {

struct StageState {
    nlohmann::json config = nlohmann::json::object(); // the image config's "config" object
    dockerfile::Env args;                             // ARGs declared in this stage, with values
    std::vector<std::string> shell = {"/bin/sh", "-c"};
    bool cmd_set = false; // CMD given in this stage (an ENTRYPOINT then keeps it)
    char escape = '\\';

    // The environment words are expanded against: ARGs, then the config's Env over them.
    dockerfile::Env expansion_env() const;

    // Expands one raw word (quotes and escapes removed).
    std::string expand(const std::string& raw) const;

    // Applies a config-only instruction and returns its created_by; nullopt when ins is not one
    // (RUN, COPY, ADD, FROM, ONBUILD, HEALTHCHECK are the executor's). build_args are the
    // --build-arg values, global_args the ARGs before the first FROM.
    // Throws Error(invalid) for a malformed instruction (ENV without a value, SHELL not JSON...).
    std::optional<std::string> apply(const dockerfile::Instruction& ins,
                                     const dockerfile::Env& build_args,
                                     const dockerfile::Env& global_args);
};

// Appends a history entry to an image config's "history" as BuildKit writes it: created
// (RFC 3339 UTC, `created` seconds: SOURCE_DATE_EPOCH when set), created_by, comment
// "buildkit.dockerfile.v0", and empty_layer when the step made no layer.
void add_history(nlohmann::json& image_config, const std::string& created_by, bool empty_layer,
                 std::int64_t created);

} // namespace gantry::image_build
