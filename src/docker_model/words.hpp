// docker's words for times and sizes, as its CLI prints them in --format fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace gantry::docker_model {

// Go's time.Time.String() of an RFC 3339 time in the local zone, as docker's .CreatedAt:
// "2026-11-26 16:45:11 +0000 UTC"; empty when TIME is not one.
std::string go_time(const std::string& rfc3339);
// Seconds since the epoch of an RFC 3339 time.
std::optional<std::int64_t> epoch_of(const std::string& rfc3339);
// go-units' HumanSizeWithPrecision(bytes, 3), docker's .Size: "1.23MB", "512B".
std::string docker_size(std::uint64_t bytes);

} // namespace gantry::docker_model
