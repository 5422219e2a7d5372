// registry/transfer_bounds: the bounds on every registry transfer outside the lazy path, from
// config.yaml's registry_transfer: and the environment over the defaults. That the defaults
// refuse a 2 bytes/s drip is proved here on the computation;
// tests/e2e/test_registry_hostile_wire.py proves it on the wire with the window shortened (the rate
// floor left at its default).
#include "registry/http.hpp"
#include "registry/transfer_bounds.hpp"
#include "util/error.hpp"
#include "util/yaml.hpp"

#include <cstdlib>
#include <gtest/gtest.h>

namespace transfer_bounds_test {

using namespace gantry;
using registry::too_slow;
using registry::transfer_bounds;
using registry::TransferBounds;

namespace {

constexpr const char* kVars[] = {"GANTRY_REGISTRY_MIN_RATE", "GANTRY_REGISTRY_RATE_WINDOW",
                                 "GANTRY_REGISTRY_DOCUMENT_TIME"};

struct CleanEnv {
    CleanEnv() { clear(); }
    ~CleanEnv() { clear(); }
    static void clear() {
        for (const char* v : kVars) ::unsetenv(v);
    }
};

TransferBounds from(const char* text) {
    return transfer_bounds(yaml::parse(text), "/etc/gantry/config.yaml");
}

} // namespace

TEST(TransferBounds, TheDefaultsRefuseA2BytesASecondDrip) {
    CleanEnv env;
    TransferBounds d = from("");
    EXPECT_EQ(d.min_rate, 1024);
    EXPECT_EQ(d.rate_window, 30);
    EXPECT_EQ(d.document_time, 60);
    EXPECT_GT(d.min_rate, 2);
    // a drip of 2 bytes a second, and one of 1000, over the window: refused
    EXPECT_TRUE(too_slow(d, 2.0 * 30, 30));
    EXPECT_TRUE(too_slow(d, 1000.0 * 30, 30));
    // a silent connection too
    EXPECT_TRUE(too_slow(d, 0, 30));
    // a slow but real link (16 kbit/s, 2000 bytes a second) passes
    EXPECT_FALSE(too_slow(d, 2000.0 * 30, 30));
    // nothing is judged before a whole window
    EXPECT_FALSE(too_slow(d, 0, 29.9));
}

TEST(TransferBounds, ATransportLeavesThemToTheBoundsByDefault) {
    registry::Transport t;
    EXPECT_EQ(t.min_rate, 0);      // Session::perform: transfer_bounds()'s
    EXPECT_EQ(t.stall_timeout, 0); // likewise
    EXPECT_EQ(t.document_time, 0);
    EXPECT_EQ(t.time_limit_ms(4u << 20), 0); // blobs: no overall bound, the rate bounds them
}

TEST(TransferBounds, TheConfigFileThenTheEnvironmentSetThem) {
    CleanEnv env;
    TransferBounds b = from("registry_transfer:\n  min_rate: 512\n  rate_window: 120\n");
    EXPECT_EQ(b.min_rate, 512);
    EXPECT_EQ(b.rate_window, 120);
    EXPECT_EQ(b.document_time, 60);
    ::setenv("GANTRY_REGISTRY_RATE_WINDOW", "2", 1);
    ::setenv("GANTRY_REGISTRY_DOCUMENT_TIME", "5", 1);
    b = from("registry_transfer:\n  min_rate: 512\n  rate_window: 120\n");
    EXPECT_EQ(b.min_rate, 512);
    EXPECT_EQ(b.rate_window, 2);
    EXPECT_EQ(b.document_time, 5);
    EXPECT_EQ(from("pull_policy: never\n").min_rate, 1024); // another key: the defaults
    EXPECT_EQ(from("registry_transfer:\n").min_rate, 1024); // empty: the defaults
}

TEST(TransferBounds, ABadEnvironmentValueIsAUsageErrorNamingTheVariable) {
    for (const char* var : kVars)
        for (const char* bad : {"0", "-5", "ten", "10s", "1.5", " 3", "99999999999999999999"}) {
            CleanEnv env;
            ::setenv(var, bad, 1);
            try {
                from("");
                ADD_FAILURE() << var << "=" << bad << " was accepted";
            } catch (const Error& e) {
                EXPECT_EQ(e.code(), Errc::usage);
                EXPECT_NE(e.message().find(var), std::string::npos) << e.message();
                EXPECT_NE(e.message().find("from 1 to"), std::string::npos) << e.message();
            }
        }
}

TEST(TransferBounds, ABadConfigValueIsRefusedNamingTheFileLineAndKey) {
    CleanEnv env;
    struct Case {
        const char* text;
        const char* named;
    };
    for (auto c :
         {Case{"registry_transfer:\n  min_rate: 0\n", "line 2: registry_transfer.min_rate"},
          Case{"registry_transfer:\n  rate_window: 1m\n", "line 2: registry_transfer.rate_window"},
          Case{"registry_transfer:\n  rate_window: 86401\n",
               "line 2: registry_transfer.rate_window"},
          Case{"registry_transfer:\n  document_time: [1]\n",
               "line 2: registry_transfer.document_time"},
          Case{"registry_transfer:\n  min_speed: 10\n",
               "line 2: registry_transfer.min_speed is not a setting"},
          Case{"registry_transfer: 1024\n", "line 1: registry_transfer is not a mapping"}}) {
        try {
            from(c.text);
            ADD_FAILURE() << c.text << " was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::invalid);
            EXPECT_NE(e.message().find(c.named), std::string::npos) << e.message();
            EXPECT_NE(e.message().find("/etc/gantry/config.yaml"), std::string::npos)
                << e.message();
        }
    }
}

} // namespace transfer_bounds_test
