// A container's recorded health (records/health.hpp).
#include "records/health.hpp"

#include "util/fs.hpp"

namespace gantry::records {

namespace {

using json = nlohmann::json;

constexpr std::size_t kHealthLogEntries = 5;     // docker's maxLogEntries
constexpr std::size_t kHealthOutputBytes = 4096; // docker's maxOutputLen

} // namespace

json HealthState::to_json() const {
    json entries = json::array();
    for (auto& e : log)
        entries.push_back(
            {{"Start", e.start}, {"End", e.end}, {"ExitCode", e.exit_code}, {"Output", e.output}});
    return {{"Status", status}, {"FailingStreak", failing_streak}, {"Log", entries}};
}

std::optional<HealthState> read_health(const std::filesystem::path& dir) {
    try {
        auto j = json::parse(fs::read_file(dir / "health.json", 1 << 20));
        HealthState s;
        s.status = j.at("Status").get<std::string>();
        s.failing_streak = j.at("FailingStreak").get<int>();
        for (auto& e : j.at("Log"))
            s.log.push_back({e.at("Start").get<std::string>(), e.at("End").get<std::string>(),
                             e.at("ExitCode").get<int>(), e.at("Output").get<std::string>()});
        return s;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

void write_health(const std::filesystem::path& dir, const HealthState& state) {
    fs::write_atomic(dir / "health.json", state.to_json().dump(), 0600, fs::Sync::volatile_only);
}

const std::string& record_health_result(HealthState& state, HealthResult result,
                                        bool in_start_period, int retries) {
    if (result.output.size() > kHealthOutputBytes) result.output.resize(kHealthOutputBytes);
    const bool passed = result.exit_code == 0;
    state.log.push_back(std::move(result));
    while (state.log.size() > kHealthLogEntries) state.log.pop_front();
    if (passed) {
        state.failing_streak = 0;
        state.status = "healthy";
    } else if (!(in_start_period && state.status == "starting")) {
        // docker's: a failure in the start period counts only once a test has passed
        if (++state.failing_streak >= retries) state.status = "unhealthy";
    }
    return state.status;
}

std::string health_suffix(const std::filesystem::path& dir) {
    auto h = read_health(dir);
    if (!h) return "";
    return h->status == "starting" ? " (health: starting)" : " (" + h->status + ")";
}

} // namespace gantry::records
