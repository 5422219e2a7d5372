#include "runtime/resources.hpp"

#include "util/error.hpp"
#include "util/units.hpp"

#include <charconv>
#include <sched.h>
#include <unistd.h>

namespace gantry::runtime {

namespace {

constexpr std::int64_t kMinMemory = 6 * 1024 * 1024; // docker's linuxMinMemory
constexpr std::int64_t kNanos = 1000000000;

[[noreturn]] void bad_flag(const std::string& flag, const std::string& value,
                           const std::string& expected) {
    throw Error(Errc::usage, flag + ": invalid value \"" + value + "\": expected " + expected);
}

int online_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
}

} // namespace

oci::LinuxResources to_linux_resources(const Resources& r) {
    constexpr std::int64_t kPeriod = 100000; // microseconds, docker's default
    oci::LinuxResources out;
    if (r.memory) {
        out.memory.limit = *r.memory > 0 ? *r.memory : -1;
        out.memory.swap = *r.memory > 0 ? 2 * *r.memory : -1;
    }
    if (r.cpus) {
        auto nanos = static_cast<std::int64_t>(*r.cpus * static_cast<double>(kNanos) + 0.5);
        std::int64_t quota = nanos * kPeriod / kNanos;
        out.cpu.quota = quota > 0 ? quota : -1;
        out.cpu.period = kPeriod;
    }
    if (r.pids) out.pids_limit = *r.pids > 0 ? *r.pids : -1;
    return out;
}

std::int64_t parse_ram_size(const std::string& value, const std::string& flag) {
    return static_cast<std::int64_t>(units::parse_size(value, flag)); // below 2^63
}

std::int64_t parse_memory(const std::string& value) {
    auto result = parse_ram_size(value, "--memory");
    if (result != 0 && result < kMinMemory)
        throw Error(Errc::usage, "--memory: " + value +
                                     " is below the minimum memory limit of 6MB (0 = unlimited)");
    return result;
}

double parse_cpus(const std::string& value) {
    static const char* expected = "a number of CPUs such as 1.5";
    size_t i = 0, nint = 0, nfrac = 0;
    std::uint64_t whole = 0, frac = 0;
    units::consume_digits(value, i, whole, nint); // an overflow saturates: out of range below
    if (i < value.size() && value[i] == '.') {
        ++i;
        units::consume_digits(value, i, frac, nfrac);
    }
    if (i != value.size() || nint + nfrac == 0) bad_flag("--cpus", value, expected);
    if (nfrac > 9)
        throw Error(Errc::usage, "--cpus: " + value + " is too precise (at most 9 decimals)");
    for (size_t k = nfrac; k < 9; ++k) frac *= 10;
    const int ncpu = online_cpus();
    const std::string range = "range of CPUs is from 0.01 to " + std::to_string(ncpu) +
                              ".00, as there are only " + std::to_string(ncpu) + " CPUs available";
    if (whole > static_cast<std::uint64_t>(ncpu)) throw Error(Errc::usage, "--cpus: " + range);
    const std::uint64_t nanos = whole * kNanos + frac;
    if (nanos == 0) return 0.0; // unlimited
    if (nanos < kNanos / 100 || nanos > static_cast<std::uint64_t>(ncpu) * kNanos)
        throw Error(Errc::usage, "--cpus: " + range);
    return static_cast<double>(nanos) / static_cast<double>(kNanos);
}

std::int64_t parse_pids(const std::string& value) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size())
        bad_flag("--pids-limit", value, "an integer (-1 for unlimited)");
    if (v < -1)
        bad_flag("--pids-limit", value, "a positive number of processes, or -1 for unlimited");
    return v <= 0 ? -1 : v;
}

} // namespace gantry::runtime
