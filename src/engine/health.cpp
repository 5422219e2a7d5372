// Health checks: the configuration and the state file (engine/health.hpp).
#include "engine/health.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/units.hpp"

namespace gantry::engine {

namespace {

using json = nlohmann::json;

std::int64_t health_ns(const json& v, std::int64_t fallback) {
    return v.is_number_integer() && v.get<std::int64_t>() > 0 ? v.get<std::int64_t>() : fallback;
}

std::int64_t health_flag_ns(const std::string& value, std::int64_t fallback) {
    if (value.empty()) return fallback;
    auto ns = units::parse_duration(value);
    return ns > 0 ? ns : fallback; // docker's 0: the default
}

} // namespace

json HealthConfig::to_json() const {
    if (!any()) return nullptr;
    return {{"Test", test},
            {"Interval", interval_ns},
            {"Timeout", timeout_ns},
            {"StartPeriod", start_period_ns},
            {"Retries", retries}};
}

HealthConfig HealthConfig::from_json(const json& j) {
    HealthConfig c;
    if (!j.is_object()) return c;
    try {
        c.test = j.value("Test", std::vector<std::string>{});
    } catch (const json::exception&) {
        return {};
    }
    c.interval_ns = health_ns(j.value("Interval", json()), c.interval_ns);
    c.timeout_ns = health_ns(j.value("Timeout", json()), c.timeout_ns);
    c.start_period_ns = health_ns(j.value("StartPeriod", json()), 0);
    if (auto r = j.value("Retries", json()); r.is_number_integer() && r.get<int>() > 0)
        c.retries = r.get<int>();
    if (!c.test.empty() && c.test[0] != "CMD" && c.test[0] != "CMD-SHELL") c.test.clear();
    return c;
}

HealthConfig health_config(const json& image_config, const RunRequest& r,
                           const std::string& image) {
    HealthConfig c;
    if (r.no_healthcheck) return c;
    if (image_config.is_object())
        if (auto hc = image_config.find("Healthcheck");
            hc != image_config.end() && !hc->is_null()) {
            auto test = hc->is_object() ? hc->value("Test", json()) : json();
            bool strings = test.is_array();
            for (auto& t : test) strings = strings && t.is_string();
            if (!strings)
                throw Error(Errc::invalid,
                            "the image " + image +
                                " has a malformed Healthcheck (its Test is "
                                "not a list of strings)",
                            "fix the image's HEALTHCHECK, or run it with --no-healthcheck");
            c = HealthConfig::from_json(*hc);
            if (!test.empty() && test[0] != "NONE" && c.test.empty())
                throw Error(Errc::invalid,
                            "the image " + image + "'s Healthcheck test \"" +
                                test[0].get<std::string>() + "\" is neither CMD nor CMD-SHELL",
                            "fix the image's HEALTHCHECK, or run it with --no-healthcheck");
        }
    if (!r.health_test.empty()) {
        if (r.health_test[0] == "NONE") return {};
        c.test = r.health_test;
    }
    if (!r.health_cmd.empty()) c.test = {"CMD-SHELL", r.health_cmd};
    c.interval_ns = health_flag_ns(r.health_interval, c.interval_ns);
    c.timeout_ns = health_flag_ns(r.health_timeout, c.timeout_ns);
    c.start_period_ns = health_flag_ns(r.health_start_period, c.start_period_ns);
    if (r.health_retries > 0) c.retries = r.health_retries;
    if (c.test.size() < 2) c.test.clear(); // no command: no check
    return c;
}

} // namespace gantry::engine
