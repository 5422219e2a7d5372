// Health checks: the check a run has (engine/health.hpp) and the state its results make
// (records/health.hpp), as docker's.
#include "engine/health.hpp"
#include "records/health.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace engine_health_test {

using gantry::Errc;
using gantry::Error;
using gantry::engine::health_config;
using gantry::engine::HealthConfig;
using gantry::engine::RunRequest;
using json = nlohmann::json;
using Strings = std::vector<std::string>;

json image_with(json hc) {
    return {{"Healthcheck", std::move(hc)}};
}

TEST(HealthConfig, TheImagesCheckWithTheRunsFlagsOverIt) {
    RunRequest r;
    auto c = health_config(image_with({{"Test", {"CMD", "curl", "-f", "http://x/"}},
                                       {"Interval", 5'000'000'000},
                                       {"Retries", 4}}),
                           r, "img");
    EXPECT_EQ(c.test, (Strings{"CMD", "curl", "-f", "http://x/"}));
    EXPECT_EQ(c.interval_ns, 5'000'000'000);
    EXPECT_EQ(c.timeout_ns, 30'000'000'000); // docker's defaults for what is not set
    EXPECT_EQ(c.retries, 4);
    r.health_cmd = "true";
    r.health_timeout = "2s";
    c = health_config(image_with({{"Test", {"CMD", "x"}}}), r, "img");
    EXPECT_EQ(c.test, (Strings{"CMD-SHELL", "true"}));
    EXPECT_EQ(c.timeout_ns, 2'000'000'000);
    EXPECT_EQ(HealthConfig::from_json(c.to_json()).test, c.test); // as the record keeps it
    EXPECT_EQ(HealthConfig::from_json(c.to_json()).timeout_ns, c.timeout_ns);
}

TEST(HealthConfig, NoneDisablesAndMalformedImagesAreRefused) {
    RunRequest r;
    EXPECT_FALSE(health_config(json::object(), r, "img").any());
    EXPECT_FALSE(health_config(image_with({{"Test", {"NONE"}}}), r, "img").any());
    r.no_healthcheck = true;
    EXPECT_FALSE(health_config(image_with({{"Test", {"CMD", "x"}}}), r, "img").any());
    r = {};
    r.health_test = {"NONE"}; // compose's `healthcheck: disable: true`
    EXPECT_FALSE(health_config(image_with({{"Test", {"CMD", "x"}}}), r, "img").any());
    r = {};
    for (json bad : {json{{"Test", "curl"}}, json{{"Test", {"RUN", "x"}}}, json{{"Test", {1}}}}) {
        try {
            (void)health_config(image_with(bad), r, "hostile:1");
            ADD_FAILURE() << bad.dump();
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::invalid);
            EXPECT_NE(e.message().find("hostile:1"), std::string::npos) << e.message();
        }
    }
}

TEST(HealthState, StartingHealthyUnhealthyAsDockersMonitor) {
    gantry::records::HealthState s;
    auto fail = [] { return gantry::records::HealthResult{"a", "b", 1, "no"}; };
    // in the start period, failures before a first pass do not count
    EXPECT_EQ(record_health_result(s, fail(), true, 2), "starting");
    EXPECT_EQ(s.failing_streak, 0);
    EXPECT_EQ(record_health_result(s, {"a", "b", 0, std::string(5000, 'x')}, true, 2), "healthy");
    EXPECT_EQ(s.log.back().output.size(), 4096u);                   // docker's maxOutputLen
    EXPECT_EQ(record_health_result(s, fail(), true, 2), "healthy"); // counted after a pass
    EXPECT_EQ(s.failing_streak, 1);
    EXPECT_EQ(record_health_result(s, fail(), false, 2), "unhealthy");
    for (int i = 0; i < 5; ++i) record_health_result(s, fail(), false, 2);
    EXPECT_EQ(s.log.size(), 5u); // the last five
    EXPECT_EQ(s.failing_streak, 7);
    EXPECT_EQ(record_health_result(s, {"a", "b", 0, ""}, false, 2), "healthy");
    EXPECT_EQ(s.failing_streak, 0);
    EXPECT_EQ(s.to_json()["Status"], "healthy");
}

} // namespace engine_health_test
