// Byte counts and durations for people: "1.5 GB" out (decimal units, like docker's output),
// sizes in as docker reads them ("512m", "8g": binary units), durations at docker's steps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gantry::units {

std::string human_size(std::uint64_t bytes);
// BYTES in the largest decimal unit (B, kB, MB, GB, TB) it reaches: what human_size and the
// transfer progress print, each with its own precision. whole_bytes: the unit is B.
struct DecimalScaled {
    double value;
    const char* unit;
    bool whole_bytes;
};
DecimalScaled decimal_scaled(double bytes);

// A duration for people, at docker's steps: "Less than a second", "1 second", "42 seconds",
// "About a minute", "12 minutes", "About an hour", "5 hours" (under 48), "3 days" (under two
// weeks), "5 weeks" (under two months), "7 months" (under two years), "3 years".
std::string human_duration(std::int64_t seconds);
// The seconds from an RFC 3339 time ("2024-05-01T12:34:56Z"; fractions of a second and a
// +hh:mm offset allowed) to now; nothing when TIME is not one.
std::optional<std::int64_t> seconds_since(const std::string& time);
// "<human_duration> ago", or FALLBACK when TIME is not an RFC 3339 time.
std::string human_ago(const std::string& time, const std::string& fallback);

// Sizes use docker's binary units: 512k = 512 KiB, 8g = 8 GiB. The grammar of docker's
// RAMInBytes (go-units), which --memory, --shm-size and docker's other size flags use: a number
// (Go's float syntax: "1.5", ".5", "1e3"; truncated to whole bytes), then, after at most one
// space, an optional unit b, k, m, g, t or p (1024^0 .. 1024^5), case-insensitive, which k to p
// may follow with "b" or "ib": "1024", "512k", "512KiB", "1.5g", "8GB", "20 MB". Throws
// Error(usage) naming `what` (the flag) for junk, a negative number, an unknown unit, or a size
// of 2^63 bytes or more, with a hint that gives the grammar.
std::uint64_t parse_size(const std::string& text, const std::string& what = "size");

// A size as dive reads its CI thresholds (go-humanize's ParseBytes), for `gantry analyze`'s
// thresholds only: SI k/kb, m/mb, g/gb, t/tb = 1000^n, IEC ki/kib ... ti/tib = 1024^n
// ("20MB" = 20,000,000 bytes, "1.5GiB"), spaces around allowed. Throws Error(usage) naming
// `what`.
std::uint64_t parse_dive_size(const std::string& text, const std::string& what = "size");

// Consumes the run of decimal digits at TEXT[I...] into VALUE, advancing I and counting them in
// DIGITS; false when the number overflows 64 bits (VALUE is then the maximum).
bool consume_digits(std::string_view text, std::size_t& i, std::uint64_t& value,
                    std::size_t& digits);

// A Go/docker duration ("30s", "1m30s", "500ms", "1h") in nanoseconds; Error(invalid)
// otherwise.
std::int64_t parse_duration(const std::string& text);

} // namespace gantry::units
