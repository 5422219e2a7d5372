// Health checks without a daemon, as docker runs them: the image's HEALTHCHECK (its config's
// "Healthcheck") with run's --health-* over it (the Engine API's Config.Healthcheck, compose's
// `healthcheck:`), kept in the container's record. A recorded container's launcher starts a
// checker (`gantry __health ID`, run_health_checks below) once the container runs; it ends
// when the container does. The checker runs the test every interval through `gantry exec`
// (CMD: the program itself, CMD-SHELL: /bin/sh -c; a test past its timeout is ended and fails)
// and keeps the container's health as docker's (records/health.hpp); a change of status is
// journalled as docker's `health_status: healthy` event.
#pragma once

#include "engine/run_request.hpp"

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gantry::engine {

struct HealthConfig {
    std::vector<std::string> test; // ["CMD", PROGRAM, ARGS...] or ["CMD-SHELL", COMMAND]
    std::int64_t interval_ns = 30'000'000'000, timeout_ns = 30'000'000'000, start_period_ns = 0;
    int retries = 3;

    bool any() const { return !test.empty(); }
    // docker's Healthcheck object; null when there is no check
    nlohmann::json to_json() const;
    // What to_json wrote (a record's); a malformed one is no check.
    static HealthConfig from_json(const nlohmann::json& j);
};

// The check a run has: the image's (IMAGE_CONFIG, the config's "config" object) with R's
// --health-* and health_test over it; none with --no-healthcheck, a test ["NONE"], or neither.
// A malformed image Healthcheck is Error(invalid) naming IMAGE.
HealthConfig health_config(const nlohmann::json& image_config, const RunRequest& r,
                           const std::string& image);

// Starts the checker of the recorded container ID (`gantry __health ID`, in a session of its
// own): it ends when the container does.
void start_health_checker(const std::string& id);

// `gantry __health ID`: the checker of the running container ID, until it ends.
void run_health_checks(const std::string& id);

} // namespace gantry::engine
