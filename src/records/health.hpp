// A container's health as its checker records it (engine/health.hpp runs the checks):
// CONTAINER_DIR/health.json, docker's State.Health: "starting", "healthy" after a test that
// exits 0, "unhealthy" after `retries` failures in a row (failures within the start period do
// not count until a test has passed), the failing streak, and the last five results with their
// first 4096 bytes of output (docker's limits). `ps` shows it as "(healthy)", inspect in full.
#pragma once

#include <deque>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace gantry::records {

struct HealthResult {
    std::string start, end; // RFC 3339
    int exit_code = 0;
    std::string output;
};

struct HealthState {
    std::string status = "starting"; // starting, healthy, unhealthy
    int failing_streak = 0;
    std::deque<HealthResult> log;   // the last five, oldest first
    nlohmann::json to_json() const; // docker's State.Health
};

// DIR/health.json (DIR a container's directory), null when there is none or it is unreadable.
std::optional<HealthState> read_health(const std::filesystem::path& dir);
void write_health(const std::filesystem::path& dir, const HealthState& state);

// STATE after a test that exited with EXIT_CODE (-1: did not finish in time), IN_START_PERIOD
// saying whether the start period still ran; RETRIES the config's. Returns the new status.
const std::string& record_health_result(HealthState& state, HealthResult result,
                                        bool in_start_period, int retries);

// docker's ps STATUS suffix: " (healthy)", " (unhealthy)", " (health: starting)", or "".
std::string health_suffix(const std::filesystem::path& dir);

} // namespace gantry::records
