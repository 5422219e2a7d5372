#include "docker_model/words.hpp"

#include "util/units.hpp"

#include <cstdio>
#include <ctime>

namespace gantry::docker_model {

std::optional<std::int64_t> epoch_of(const std::string& rfc3339) {
    auto since = units::seconds_since(rfc3339);
    if (!since) return std::nullopt;
    return static_cast<std::int64_t>(std::time(nullptr)) - *since;
}

std::string go_time(const std::string& rfc3339) {
    auto t = epoch_of(rfc3339);
    if (!t) return {};
    std::time_t tt = static_cast<std::time_t>(*t);
    std::tm tm{};
    ::localtime_r(&tt, &tm);
    char buf[96];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %z %Z", &tm);
    return buf;
}

std::string docker_size(std::uint64_t bytes) {
    auto s = units::decimal_scaled(static_cast<double>(bytes));
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.3g%s", s.value, s.unit);
    return buf;
}

} // namespace gantry::docker_model
