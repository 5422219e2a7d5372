#include "lazy/transfer_limits.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>

namespace gantry::lazy {

namespace {

// NAME's value: a whole number from 1 to MAX, or FALLBACK when unset or empty.
long from_env(const char* name, long fallback, long max, const char* unit) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    errno = 0;
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < 1 || n > max)
        throw Error(Errc::usage,
                    std::string(name) + "=" + v + " is not a whole number of " + unit +
                        " from 1 to " + std::to_string(max),
                    "set it to a number such as " + std::to_string(fallback) +
                        " (the default), or unset it (docs/lazy-pull.md, Faults)");
    return n;
}

} // namespace

TransferLimits transfer_limits() {
    TransferLimits d;
    constexpr long kMaxSeconds = 24 * 3600;
    constexpr long kMaxRate = 1L << 40;
    TransferLimits t;
    t.min_rate = from_env("GANTRY_LAZY_MIN_RATE", d.min_rate, kMaxRate, "bytes a second");
    t.rate_window = from_env("GANTRY_LAZY_RATE_WINDOW", d.rate_window, kMaxSeconds, "seconds");
    t.request_time = from_env("GANTRY_LAZY_REQUEST_TIME", d.request_time, kMaxSeconds, "seconds");
    t.request_rate =
        from_env("GANTRY_LAZY_REQUEST_RATE", d.request_rate, kMaxRate, "bytes a second");
    // a connection is bounded as a window without bytes is (and never longer than it was)
    t.connect_timeout = std::min(d.connect_timeout, t.rate_window);
    return t;
}

registry::ClientOptions with_transfer_limits(registry::ClientOptions o) {
    TransferLimits t = transfer_limits();
    o.retry_timeouts = false;
    o.transport.connect_timeout = t.connect_timeout;
    o.transport.min_rate = t.min_rate;
    o.transport.stall_timeout = t.rate_window;
    o.transport.time_base = t.request_time;
    o.transport.average_rate = t.request_rate;
    o.transport.bounds_hint =
        "the registry or the link to it is too slow for a lazily pulled container; pull the "
        "image without --lazy, or raise the bounds (GANTRY_LAZY_MIN_RATE, "
        "GANTRY_LAZY_RATE_WINDOW, GANTRY_LAZY_REQUEST_TIME, GANTRY_LAZY_REQUEST_RATE: "
        "docs/lazy-pull.md, Faults)";
    return o;
}

} // namespace gantry::lazy
