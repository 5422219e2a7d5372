// docker's --memory, --cpus and --pids-limit values (runtime/resources.hpp); the size grammar
// itself is util/units' (tests/unit/util/test_units.cpp).
#include "runtime/resources.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <string>
#include <unistd.h>

namespace runtime_resources_test {

using gantry::Errc;
using gantry::Error;
using gantry::runtime::parse_cpus;
using gantry::runtime::parse_memory;
using gantry::runtime::parse_pids;
using gantry::runtime::Resources;

namespace {

int cpus_available() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    return static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
}

template <class F>
void expect_usage(F f, const std::string& value, const std::string& flag) {
    try {
        f(value);
        ADD_FAILURE() << "accepted " << flag << " \"" << value << "\"";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage) << value;
        EXPECT_TRUE(e.message().starts_with(flag + ": ")) << e.message();
    }
}

} // namespace

TEST(Resources, AnyIsTrueWhenOneLimitIsSet) {
    Resources r;
    EXPECT_FALSE(r.any());
    r.pids = -1;
    EXPECT_TRUE(r.any());
    EXPECT_TRUE(Resources{.memory = 0}.any());
    EXPECT_TRUE(Resources{.cpus = 0.5}.any());
}

TEST(ResourceFlags, MemoryUsesDockerBinaryUnits) {
    EXPECT_EQ(parse_memory("512m"), 512ll << 20);
    EXPECT_EQ(parse_memory("512M"), 512ll << 20);
    EXPECT_EQ(parse_memory("512mb"), 512ll << 20);
    EXPECT_EQ(parse_memory("512MiB"), 512ll << 20);
    EXPECT_EQ(parse_memory("512 m"), 512ll << 20);
    EXPECT_EQ(parse_memory("1g"), 1ll << 30);
    EXPECT_EQ(parse_memory("2GB"), 2ll << 30);
    EXPECT_EQ(parse_memory("1.5g"), 3ll << 29);
    EXPECT_EQ(parse_memory("8192k"), 8ll << 20);
    EXPECT_EQ(parse_memory("1t"), 1ll << 40);
    EXPECT_EQ(parse_memory("1p"), 1ll << 50);
    EXPECT_EQ(parse_memory("10000000"), 10000000);
    EXPECT_EQ(parse_memory("10000000b"), 10000000);
    EXPECT_EQ(parse_memory("6m"), 6ll << 20); // docker's minimum
    EXPECT_EQ(parse_memory("0"), 0);          // unlimited
    EXPECT_EQ(parse_memory("1.000000000000000000000000001g"), 1ll << 30);
    // docker's RAMInBytes reads the number as Go's ParseFloat does
    EXPECT_EQ(parse_memory(".5g"), 1ll << 29);
    EXPECT_EQ(parse_memory("1.g"), 1ll << 30);
    EXPECT_EQ(parse_memory("1e9"), 1000000000);
}

TEST(ResourceFlags, ShmSizeIsTheSameGrammarWithoutAMinimum) {
    using gantry::runtime::parse_ram_size;
    EXPECT_EQ(parse_ram_size("8g", "--shm-size"), 8ll << 30);
    EXPECT_EQ(parse_ram_size("1k", "--shm-size"), 1024);
    EXPECT_EQ(parse_ram_size("0", "--shm-size"), 0); // the caller refuses it
    expect_usage([](const std::string& v) { return parse_ram_size(v, "--shm-size"); }, "8x",
                 "--shm-size");
}

TEST(ResourceFlags, MemoryRejectsBadValuesNamingTheFlag) {
    for (const char* v : {"", "abc", "-1", "512x", "m", ".", "1..2m", "1.2.3m", "512mm", " 512m",
                          "0x100", "512mbb", "512ki", "512m b", "inf", "nan"})
        expect_usage(parse_memory, v, "--memory");
    expect_usage(parse_memory, "99999999999p", "--memory");         // does not fit int64
    expect_usage(parse_memory, "99999999999999999999", "--memory"); // nor uint64
    try {
        parse_memory("99999999999999999999k");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "--memory: 99999999999999999999k is too large");
        EXPECT_NE(e.hint().find("8192p"), std::string::npos) << e.hint();
    }
    try {
        parse_memory("4m");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "--memory: 4m is below the minimum memory limit of 6MB (0 = "
                               "unlimited)");
    }
    try {
        parse_memory("lots");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "--memory: invalid value \"lots\": not a size");
        EXPECT_EQ(e.hint(), "sizes use docker's binary units: a number and an optional unit b, k, "
                            "m, g, t or p (1k = 1024; kb and kib alike), e.g. 512k = 512 KiB, "
                            "8g = 8 GiB");
    }
}

TEST(ResourceFlags, CpusIsADecimalInDockersRange) {
    EXPECT_DOUBLE_EQ(parse_cpus("1"), 1.0);
    EXPECT_DOUBLE_EQ(parse_cpus("0.5"), 0.5);
    EXPECT_DOUBLE_EQ(parse_cpus(".5"), 0.5);
    EXPECT_DOUBLE_EQ(parse_cpus("1."), 1.0);
    EXPECT_DOUBLE_EQ(parse_cpus("0.01"), 0.01);
    EXPECT_DOUBLE_EQ(parse_cpus("0.000000000"), 0.0); // unlimited
    EXPECT_DOUBLE_EQ(parse_cpus("0"), 0.0);
    const int n = cpus_available();
    EXPECT_DOUBLE_EQ(parse_cpus(std::to_string(n)), n);
    if (n >= 2) {
        EXPECT_DOUBLE_EQ(parse_cpus("1.5"), 1.5);
    }
}

TEST(ResourceFlags, CpusRejectsBadValuesNamingTheFlag) {
    for (const char* v : {"", "abc", "-1", "1.5.2", "1e3", ".", "1,5", "3/2", " 1", "1 "})
        expect_usage(parse_cpus, v, "--cpus");
    const int n = cpus_available();
    const std::string range = "--cpus: range of CPUs is from 0.01 to " + std::to_string(n) +
                              ".00, as there are only " + std::to_string(n) + " CPUs available";
    for (const std::string& v : {std::string("0.001"), std::to_string(n) + ".5",
                                 std::to_string(n + 1), std::string("99999999999999999999999")}) {
        try {
            parse_cpus(v);
            ADD_FAILURE() << v;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::usage);
            EXPECT_EQ(e.message(), range) << v;
        }
    }
    try {
        parse_cpus("0.0000000001");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "--cpus: 0.0000000001 is too precise (at most 9 decimals)");
    }
}

TEST(ResourceFlags, PidsLimitMinusOneAndZeroMeanUnlimited) {
    EXPECT_EQ(parse_pids("100"), 100);
    EXPECT_EQ(parse_pids("1"), 1);
    EXPECT_EQ(parse_pids("-1"), -1);
    EXPECT_EQ(parse_pids("0"), -1);
    EXPECT_EQ(parse_pids("9223372036854775807"), 9223372036854775807ll);
    for (const char* v : {"", "abc", "1.5", "+5", " 5", "5 ", "-2", "99999999999999999999"})
        expect_usage(parse_pids, v, "--pids-limit");
}

TEST(ResourceFlags, RealtimeMicrosecondsAndTheRuntimeWithinThePeriod) {
    using gantry::runtime::parse_cpu_rt;
    EXPECT_EQ(parse_cpu_rt("1000000", "--cpu-rt-period"), 1000000);
    EXPECT_EQ(parse_cpu_rt("0", "--cpu-rt-runtime"), std::nullopt); // docker's "not set"
    for (const char* bad : {"-1", "1.5", "x", "", "1099511627776"})
        expect_usage([](const std::string& v) { return parse_cpu_rt(v, "--cpu-rt-runtime"); }, bad,
                     "--cpu-rt-runtime");
    Resources r;
    r.cpu_rt_period = 1000;
    r.cpu_rt_runtime = 1001;
    EXPECT_THROW(check_together(r), Error); // docker: runtime above the period
    r.cpu_rt_runtime = 500;
    EXPECT_NO_THROW(check_together(r));
    EXPECT_TRUE(r.any());
    auto lr = to_linux_resources(r);
    EXPECT_EQ(lr.cpu.realtime_period, 1000u);
    EXPECT_EQ(lr.cpu.realtime_runtime, 500);
    EXPECT_EQ(r.flags(), (std::vector<std::string>{"--cpu-rt-period", "--cpu-rt-runtime"}));
}

} // namespace runtime_resources_test

namespace runtime_resources_test {

using gantry::runtime::available_cpus;
using gantry::runtime::check_together;
using gantry::runtime::parse_cpu_shares;
using gantry::runtime::parse_cpuset;
using gantry::runtime::parse_memory_reservation;
using gantry::runtime::parse_memory_swap;
using gantry::runtime::parse_memory_swappiness;
using gantry::runtime::to_linux_resources;

TEST(ResourceFlags, DockersFurtherMemoryFlags) {
    EXPECT_EQ(parse_memory_swap("-1"), -1);
    EXPECT_EQ(parse_memory_swap("2g"), 2LL << 30);
    EXPECT_EQ(parse_memory_swap("0"), std::nullopt); // docker's default: twice --memory
    expect_usage(parse_memory_swap, "-2", "--memory-swap");
    EXPECT_EQ(parse_memory_reservation("64m"), 64LL << 20);
    EXPECT_EQ(parse_memory_reservation("0"), std::nullopt);
    expect_usage(parse_memory_reservation, "1m", "--memory-reservation"); // below docker's 6 MiB
    EXPECT_EQ(parse_memory_swappiness("0"), 0u);
    EXPECT_EQ(parse_memory_swappiness("100"), 100u);
    EXPECT_EQ(parse_memory_swappiness("-1"), std::nullopt);
    for (const char* bad : {"101", "-2", "ten", ""})
        expect_usage(parse_memory_swappiness, bad, "--memory-swappiness");
}

TEST(ResourceFlags, CpuSharesIsTheKernelsRangeRefusedNotClamped) {
    EXPECT_EQ(parse_cpu_shares("512"), 512u);
    EXPECT_EQ(parse_cpu_shares("2"), 2u);
    EXPECT_EQ(parse_cpu_shares("262144"), 262144u);
    EXPECT_EQ(parse_cpu_shares("0"), std::nullopt);
    for (const char* bad : {"1", "262145", "-5", "1.5", "x"})
        expect_usage(parse_cpu_shares, bad, "--cpu-shares");
}

TEST(ResourceFlags, CpusetListsMustBeAvailable) {
    EXPECT_EQ(parse_cpuset("0-3,8", "--cpuset-cpus", "0-15"), "0-3,8");
    EXPECT_EQ(parse_cpuset("1", "--cpuset-mems", "0-1"), "1");
    try {
        parse_cpuset("0,2-5", "--cpuset-cpus", "0-3");
        ADD_FAILURE() << "accepted CPUs that are not available";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage);
        EXPECT_NE(e.message().find("CPUs 4-5 are not available here (available: 0-3)"),
                  std::string::npos)
            << e.message();
    }
    for (const char* bad : {"", "a", "1-", "3-1", "1,,2", "0 1", "70000"}) {
        auto f = [](const std::string& v) { return parse_cpuset(v, "--cpuset-cpus", "0-3"); };
        expect_usage(f, bad, "--cpuset-cpus");
    }
    // this process's own CPUs are available, as a list the parser reads back
    const std::string mine = available_cpus();
    EXPECT_EQ(parse_cpuset(mine, "--cpuset-cpus", mine), mine);
    EXPECT_FALSE(mine.empty());
}

TEST(ResourceFlags, SwapAndReservationAgainstMemory) {
    Resources r;
    r.memory_swap = 1LL << 30;
    EXPECT_THROW(check_together(r), Error); // --memory-swap without --memory
    r.memory = 2LL << 30;
    EXPECT_THROW(check_together(r), Error); // below --memory
    r.memory_swap = -1;
    EXPECT_NO_THROW(check_together(r));
    r.memory_reservation = 3LL << 30;
    EXPECT_THROW(check_together(r), Error); // above --memory
    r.memory_reservation = 1LL << 30;
    r.cpu_shares = 512;
    r.cpuset_cpus = "0";
    r.memory_swappiness = 10;
    EXPECT_NO_THROW(check_together(r));
    auto lr = to_linux_resources(r);
    EXPECT_EQ(lr.memory.limit, 2LL << 30);
    EXPECT_EQ(lr.memory.swap, -1); // --memory-swap's value replaces twice --memory
    EXPECT_EQ(lr.memory.reservation, 1LL << 30);
    EXPECT_EQ(lr.memory.swappiness, 10u);
    EXPECT_EQ(lr.cpu.shares, 512u);
    EXPECT_EQ(lr.cpu.cpus, "0");
    EXPECT_EQ(r.flags(),
              (std::vector<std::string>{"--memory", "--memory-swap", "--memory-reservation",
                                        "--memory-swappiness", "--cpu-shares", "--cpuset-cpus"}));
    // the runtime spec's form reads back unchanged
    EXPECT_EQ(gantry::oci::LinuxResources::from_json(lr.to_json()).to_json(), lr.to_json());
}

} // namespace runtime_resources_test
