// docker's restart policies as gantry reads and applies them (engine/restart_policy.hpp).
#include "engine/restart_policy.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace engine_restart_policy_test {

using gantry::Errc;
using gantry::Error;
using gantry::engine::restart_delay_ms;
using gantry::engine::RestartPolicy;

TEST(RestartPolicy, ParsesDockersPoliciesAndRefusesTheRest) {
    EXPECT_FALSE(RestartPolicy::parse("no").any());
    EXPECT_FALSE(RestartPolicy::parse("").any()); // the API's empty Name
    EXPECT_EQ(RestartPolicy::parse("on-failure").str(), "on-failure");
    EXPECT_EQ(RestartPolicy::parse("on-failure:3").max_retries, 3);
    EXPECT_EQ(RestartPolicy::parse("on-failure:3").str(), "on-failure:3");
    EXPECT_EQ(RestartPolicy::parse("always").str(), "always");
    EXPECT_EQ(RestartPolicy::parse("unless-stopped").str(), "unless-stopped");
    for (const char* bad :
         {"sometimes", "always:2", "on-failure:-1", "on-failure:x", "no:1", "on-failure:"}) {
        try {
            (void)RestartPolicy::parse(bad);
            ADD_FAILURE() << bad << " accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::usage) << bad;
            EXPECT_NE(e.message().find("--restart"), std::string::npos) << e.message();
        }
    }
}

TEST(RestartPolicy, RestartsAsDockersRestartManagerDoes) {
    auto on_failure = RestartPolicy::parse("on-failure:2");
    EXPECT_FALSE(on_failure.restarts(0, 0)); // a clean exit is not a failure
    EXPECT_TRUE(on_failure.restarts(3, 0));
    EXPECT_TRUE(on_failure.restarts(137, 1));
    EXPECT_FALSE(on_failure.restarts(3, 2));                           // N restarts made
    EXPECT_TRUE(RestartPolicy::parse("on-failure").restarts(1, 1000)); // no limit
    for (const char* p : {"always", "unless-stopped"}) {
        EXPECT_TRUE(RestartPolicy::parse(p).restarts(0, 1000)) << p;
        EXPECT_TRUE(RestartPolicy::parse(p).restarts(1, 0)) << p;
    }
    EXPECT_FALSE(RestartPolicy::parse("no").restarts(1, 0));
}

TEST(RestartPolicy, WaitsDoubleFrom100MsToAMinuteAndResetAfterTenSeconds) {
    EXPECT_EQ(restart_delay_ms(0, 0.1), 100);
    EXPECT_EQ(restart_delay_ms(100, 0.1), 200);
    EXPECT_EQ(restart_delay_ms(400, 9.9), 800);
    EXPECT_EQ(restart_delay_ms(40000, 1), 60000);
    EXPECT_EQ(restart_delay_ms(60000, 1), 60000);
    EXPECT_EQ(restart_delay_ms(60000, 10), 100); // a run of 10 s or more starts over
}

} // namespace engine_restart_policy_test
