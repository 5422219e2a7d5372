// lazy/transfer_limits: the bounds on the lazy path's transfers, from the environment over the
// defaults, put on a client's transport; registry::Transport's overall bound per request, sized
// from the bytes asked. (A registry that drips, or sends just above the minimum rate, is
// tests/e2e/test_lazy_hostile_registry.py's.)
#include "lazy/transfer_limits.hpp"
#include "registry/http.hpp"
#include "util/error.hpp"

#include <cstdlib>
#include <gtest/gtest.h>

namespace transfer_limits_test {

using namespace gantry;

namespace {

constexpr const char* kVars[] = {"GANTRY_LAZY_MIN_RATE", "GANTRY_LAZY_RATE_WINDOW",
                                 "GANTRY_LAZY_REQUEST_TIME", "GANTRY_LAZY_REQUEST_RATE"};

struct CleanEnv {
    CleanEnv() { clear(); }
    ~CleanEnv() { clear(); }
    static void clear() {
        for (const char* v : kVars) ::unsetenv(v);
    }
};

} // namespace

TEST(TransferLimits, DefaultsBoundEveryTransfer) {
    CleanEnv env;
    auto o = lazy::with_transfer_limits(registry::ClientOptions{});
    EXPECT_FALSE(o.retry_timeouts);
    EXPECT_EQ(o.transport.min_rate, 1024);
    EXPECT_EQ(o.transport.stall_timeout, 10);
    EXPECT_EQ(o.transport.connect_timeout, 10);
    // 30 s, plus the bytes at 16 KiB/s: a 512 KiB read 62 s, a 4 MiB read-ahead 286 s
    EXPECT_EQ(o.transport.time_limit_ms(0), 30000);
    EXPECT_EQ(o.transport.time_limit_ms(512u << 10), 62000);
    EXPECT_EQ(o.transport.time_limit_ms(4u << 20), 286000);
    // a plain pull's transport has no overall bound
    EXPECT_EQ(registry::Transport{}.time_limit_ms(4u << 20), 0);
}

TEST(TransferLimits, TheEnvironmentSetsThem) {
    CleanEnv env;
    ::setenv("GANTRY_LAZY_MIN_RATE", "4096", 1);
    ::setenv("GANTRY_LAZY_RATE_WINDOW", "2", 1);
    ::setenv("GANTRY_LAZY_REQUEST_TIME", "3", 1);
    ::setenv("GANTRY_LAZY_REQUEST_RATE", "1048576", 1);
    auto o = lazy::with_transfer_limits(registry::ClientOptions{});
    EXPECT_EQ(o.transport.min_rate, 4096);
    EXPECT_EQ(o.transport.stall_timeout, 2);
    EXPECT_EQ(o.transport.connect_timeout, 2); // never longer than the window
    EXPECT_EQ(o.transport.time_limit_ms(1u << 20), 4000);
}

TEST(TransferLimits, ABadValueIsAUsageErrorNamingTheVariable) {
    for (const char* var : kVars)
        for (const char* bad : {"0", "-5", "ten", "10s", "99999999999999999999"}) {
            CleanEnv env;
            ::setenv(var, bad, 1);
            try {
                lazy::transfer_limits();
                ADD_FAILURE() << var << "=" << bad << " was accepted";
            } catch (const Error& e) {
                EXPECT_EQ(e.code(), Errc::usage);
                EXPECT_NE(e.message().find(var), std::string::npos) << e.message();
            }
        }
}

} // namespace transfer_limits_test
