// Fuzzes the values users give on the command line (util/units, runtime/resources): sizes as
// --memory / --shm-size read them (docker's RAMInBytes), dive's sizes, --cpus, --pids-limit, and
// RFC 3339 times (image "created" fields, shown as durations).
#include "fuzz_support.hpp"
#include "runtime/resources.hpp"
#include "util/units.hpp"

#include <cmath>

using namespace gantry;

GANTRY_FUZZ_TARGET(cli_values) {
    std::string in(fuzz::bytes(data, size));
    fuzz::expect_error([&] {
        auto n = units::parse_size(in, "--shm-size");
        FUZZ_CHECK(n < (std::uint64_t{1} << 63));
        FUZZ_CHECK(!units::human_size(n).empty());
    });
    fuzz::expect_error([&] { (void)units::human_size(units::parse_dive_size(in)); });
    fuzz::expect_error([&] { FUZZ_CHECK(runtime::parse_memory(in) >= 0); });
    fuzz::expect_error([&] { FUZZ_CHECK(runtime::parse_ram_size(in, "--shm-size") >= 0); });
    fuzz::expect_error([&] {
        double c = runtime::parse_cpus(in);
        FUZZ_CHECK(std::isfinite(c) && c >= 0);
    });
    fuzz::expect_error([&] { FUZZ_CHECK(runtime::parse_pids(in) >= -1); });
    if (auto s = units::seconds_since(in)) FUZZ_CHECK(!units::human_duration(*s).empty());
    FUZZ_CHECK(!units::human_ago(in, "unknown").empty());
    std::size_t i = 0, digits = 0;
    std::uint64_t value = 0;
    (void)units::consume_digits(in, i, value, digits);
    FUZZ_CHECK(i == digits && i <= in.size());
    return 0;
}
