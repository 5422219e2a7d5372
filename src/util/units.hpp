// Byte counts for people: "1.5 GB" out (decimal units, like docker), "512MiB"/"2G" in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace gantry::units {

std::string human_size(std::uint64_t bytes);

// A duration for people, at docker's steps: "Less than a second", "1 second", "42 seconds",
// "About a minute", "12 minutes", "About an hour", "5 hours" (under 48), "3 days" (under two
// weeks), "5 weeks" (under two months), "7 months" (under two years), "3 years".
std::string human_duration(std::int64_t seconds);
// The seconds from an RFC 3339 time ("2024-05-01T12:34:56Z"; fractions of a second and a
// +hh:mm offset allowed) to now; nothing when TIME is not one.
std::optional<std::int64_t> seconds_since(const std::string& time);
// "<human_duration> ago", or FALLBACK when TIME is not an RFC 3339 time.
std::string human_ago(const std::string& time, const std::string& fallback);

// "1024", "512k", "512KiB", "1.5G", "2GiB", "20 MB" (case-insensitive): SI k/m/g/t = 1000^n,
// IEC ki/mi/gi/ti (with or without "b") = 1024^n, as go-humanize's ParseBytes. Throws
// Error(usage) naming `what` (the flag or key) and the text.
std::uint64_t parse_size(const std::string& text, const std::string& what = "size");

} // namespace gantry::units
