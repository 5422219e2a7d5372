#include "runtime/resources.hpp"

#include "runtime/caller_cpuset.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/units.hpp"

#include <algorithm>
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
    if (r.memory_swap) out.memory.swap = *r.memory_swap;
    out.memory.reservation = r.memory_reservation;
    out.memory.swappiness = r.memory_swappiness;
    out.cpu.shares = r.cpu_shares;
    out.cpu.cpus = r.cpuset_cpus;
    out.cpu.mems = r.cpuset_mems;
    out.cpu.realtime_period = r.cpu_rt_period;
    out.cpu.realtime_runtime = r.cpu_rt_runtime;
    if (r.cpus) {
        auto nanos = static_cast<std::int64_t>(*r.cpus * static_cast<double>(kNanos) + 0.5);
        std::int64_t quota = nanos * kPeriod / kNanos;
        out.cpu.quota = quota > 0 ? quota : -1;
        out.cpu.period = kPeriod;
    }
    if (r.pids) out.pids_limit = *r.pids > 0 ? *r.pids : -1;
    if (!r.dmem_max.empty()) out.unified["dmem.max"] = r.dmem_max;
    if (!r.dmem_min.empty()) out.unified["dmem.min"] = r.dmem_min;
    return out;
}

std::vector<std::string> Resources::flags() const {
    std::vector<std::string> out;
    auto add = [&](bool set, const char* flag) {
        if (set) out.emplace_back(flag);
    };
    add(memory.has_value(), "--memory");
    add(memory_swap.has_value(), "--memory-swap");
    add(memory_reservation.has_value(), "--memory-reservation");
    add(memory_swappiness.has_value(), "--memory-swappiness");
    add(cpus.has_value(), "--cpus");
    add(cpu_shares.has_value(), "--cpu-shares");
    add(!cpuset_cpus.empty(), "--cpuset-cpus");
    add(!cpuset_mems.empty(), "--cpuset-mems");
    add(pids.has_value(), "--pids-limit");
    add(cpu_rt_period.has_value(), "--cpu-rt-period");
    add(cpu_rt_runtime.has_value(), "--cpu-rt-runtime");
    add(!dmem_max.empty(), "--gpu-memory");
    add(!dmem_min.empty(), "--gpu-memory-reservation");
    return out;
}

void check_together(const Resources& r) {
    const bool limited = r.memory && *r.memory > 0;
    if (r.memory_swap && !limited)
        throw Error(Errc::usage, "--memory-swap needs --memory (the swap limit is memory+swap)",
                    "add --memory, e.g. --memory 1g --memory-swap 2g");
    if (r.memory_swap && *r.memory_swap > 0 && *r.memory_swap < *r.memory)
        throw Error(Errc::usage,
                    "--memory-swap (" + std::to_string(*r.memory_swap) +
                        " bytes) is below --memory (" + std::to_string(*r.memory) +
                        "): it is the limit of memory and swap together",
                    "give --memory-swap at least --memory's size, or -1 for unlimited swap");
    if (r.memory_reservation && limited && *r.memory_reservation > *r.memory)
        throw Error(Errc::usage, "--memory-reservation is above --memory",
                    "a reservation is a soft limit below the hard one: lower it");
    if (r.cpu_rt_period && r.cpu_rt_runtime && *r.cpu_rt_runtime > *r.cpu_rt_period)
        throw Error(Errc::usage,
                    "--cpu-rt-runtime (" + std::to_string(*r.cpu_rt_runtime) +
                        ") is above --cpu-rt-period (" + std::to_string(*r.cpu_rt_period) +
                        "): the runtime is a part of each period",
                    "give --cpu-rt-runtime at most --cpu-rt-period's microseconds");
}

std::optional<std::int64_t> parse_memory_swap(const std::string& value) {
    if (value == "-1") return -1;
    auto bytes = parse_ram_size(value, "--memory-swap");
    if (bytes == 0) return std::nullopt;
    return bytes;
}

std::optional<std::int64_t> parse_memory_reservation(const std::string& value) {
    auto bytes = parse_ram_size(value, "--memory-reservation");
    if (bytes == 0) return std::nullopt;
    if (bytes < kMinMemory)
        throw Error(Errc::usage, "--memory-reservation: " + value +
                                     " is below the minimum of 6MB (0 = no reservation)");
    return bytes;
}

namespace {

std::int64_t whole_number(const std::string& value, const std::string& flag,
                          const std::string& expected) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size())
        bad_flag(flag, value, expected);
    return v;
}

// The numbers of a list "0-3,5" (at most kMaxListed of them); throws naming FLAG.
std::vector<unsigned> listed_numbers(const std::string& list, const std::string& flag) {
    constexpr unsigned kMaxListed = 65536;
    const std::string expected = "a list of numbers and ranges such as 0-3,5";
    std::vector<unsigned> out;
    size_t i = 0;
    auto number = [&] {
        std::uint64_t v = 0;
        size_t n = 0;
        units::consume_digits(list, i, v, n);
        if (n == 0 || v >= kMaxListed) bad_flag(flag, list, expected);
        return static_cast<unsigned>(v);
    };
    while (true) {
        unsigned lo = number(), hi = lo;
        if (i < list.size() && list[i] == '-') {
            ++i;
            hi = number();
            if (hi < lo) bad_flag(flag, list, expected + " (a range's end below its start)");
        }
        for (unsigned k = lo; k <= hi && out.size() < kMaxListed; ++k) out.push_back(k);
        if (i == list.size()) return out;
        if (list[i] != ',') bad_flag(flag, list, expected);
        ++i;
    }
}

std::string list_of(const std::vector<unsigned>& numbers) {
    std::string out;
    for (size_t i = 0; i < numbers.size();) {
        size_t j = i;
        while (j + 1 < numbers.size() && numbers[j + 1] == numbers[j] + 1) ++j;
        if (!out.empty()) out += ",";
        out += std::to_string(numbers[i]);
        if (j > i) out += "-" + std::to_string(numbers[j]);
        i = j + 1;
    }
    return out;
}

} // namespace

std::vector<unsigned> cpuset_numbers(const std::string& list, const std::string& what) {
    auto out = listed_numbers(list, what);
    std::ranges::sort(out);
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::string cpuset_list(const std::vector<unsigned>& numbers) {
    return list_of(numbers);
}

std::optional<std::uint64_t> parse_memory_swappiness(const std::string& value) {
    auto v =
        whole_number(value, "--memory-swappiness", "a number from 0 to 100 (-1: the kernel's)");
    if (v == -1) return std::nullopt;
    if (v < 0 || v > 100)
        throw Error(Errc::usage, "--memory-swappiness: " + value +
                                     " is out of range: the kernel takes 0 to 100 (-1: its own)");
    return static_cast<std::uint64_t>(v);
}

std::optional<std::uint64_t> parse_cpu_shares(const std::string& value) {
    auto v = whole_number(value, "--cpu-shares", "a relative weight from 2 to 262144");
    if (v == 0) return std::nullopt;
    if (v < 2 || v > 262144)
        throw Error(Errc::usage,
                    "--cpu-shares: " + value + " is out of range: the kernel takes 2 to 262144",
                    "1024 is the default weight: give a share relative to it");
    return static_cast<std::uint64_t>(v);
}

std::optional<std::int64_t> parse_cpu_rt(const std::string& value, const std::string& flag) {
    constexpr std::int64_t kMax = std::int64_t{1} << 40; // the budget's sums stay in 64 bits
    auto v = whole_number(value, flag, "microseconds, a whole number (0: not set)");
    if (v == 0) return std::nullopt;
    if (v < 0 || v >= kMax)
        throw Error(Errc::usage, flag + ": " + value + " is out of range: microseconds from 1",
                    flag == "--cpu-rt-runtime"
                        ? "a runtime is a part of each period (1000000 us by default)"
                        : "the kernel's default period is 1000000 us (one second)");
    return v;
}

std::string parse_cpuset(const std::string& value, const std::string& flag,
                         const std::string& available) {
    const auto wanted = listed_numbers(value, flag);
    const auto have = listed_numbers(available, "the available list");
    std::vector<unsigned> missing;
    for (unsigned n : wanted)
        if (!std::ranges::binary_search(have, n)) missing.push_back(n);
    if (!missing.empty()) {
        const bool cpus = flag == "--cpuset-cpus";
        throw Error(Errc::usage,
                    flag + ": " + std::string(cpus ? "CPUs" : "memory nodes") + " " +
                        list_of(missing) + " are not available here (available: " + available + ")",
                    cpus ? "choose CPUs this process may run on (taskset -p $$ shows them)"
                         : "choose nodes of /sys/devices/system/node/online");
    }
    return value;
}

std::string available_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<unsigned> cpus;
    if (::sched_getaffinity(0, sizeof set, &set) == 0)
        for (unsigned c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &set)) cpus.push_back(c);
    if (cpus.empty())
        for (int c = 0; c < online_cpus(); ++c) cpus.push_back(static_cast<unsigned>(c));
    return cpuset_within(list_of(cpus), caller_cpuset().cpus);
}

std::string available_mems() {
    std::string nodes;
    try {
        nodes = fs::read_file("/sys/devices/system/node/online");
    } catch (const Error&) {
        return "0"; // a kernel without NUMA: one node
    }
    while (!nodes.empty() && (nodes.back() == '\n' || nodes.back() == ' ')) nodes.pop_back();
    return cpuset_within(nodes.empty() ? "0" : nodes, caller_cpuset().mems);
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
