#include "util/units.hpp"

#include "util/error.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <utility>

namespace gantry::units {

std::string human_size(std::uint64_t b) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = static_cast<double>(b);
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
    else
        std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : "%.1f %s", v, units[u]);
    return buf;
}

std::string human_duration(std::int64_t seconds) {
    auto n = [](std::int64_t v, const char* unit) { return std::to_string(v) + " " + unit; };
    if (seconds < 1) return "Less than a second";
    if (seconds == 1) return "1 second";
    if (seconds < 60) return n(seconds, "seconds");
    const std::int64_t minutes = seconds / 60;
    if (minutes == 1) return "About a minute";
    if (minutes < 60) return n(minutes, "minutes");
    const std::int64_t hours = (seconds + 1800) / 3600; // to the nearest hour
    if (hours == 1) return "About an hour";
    if (hours < 48) return n(hours, "hours");
    if (hours < 24 * 14) return n(hours / 24, "days");
    if (hours < 24 * 60) return n(hours / (24 * 7), "weeks");
    if (hours < 24 * 730) return n(hours / (24 * 30), "months");
    return n(seconds / (3600 * 24 * 365), "years");
}

std::optional<std::int64_t> seconds_since(const std::string& time) {
    struct tm tm {};
    const char* p = ::strptime(time.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) return std::nullopt;
    if (*p == '.')
        for (++p; std::isdigit(static_cast<unsigned char>(*p));) ++p;
    long offset = 0; // seconds east of UTC
    if ((*p == '+' || *p == '-') && std::isdigit(static_cast<unsigned char>(p[1])) &&
        std::isdigit(static_cast<unsigned char>(p[2])) && p[3] == ':' &&
        std::isdigit(static_cast<unsigned char>(p[4])) &&
        std::isdigit(static_cast<unsigned char>(p[5])) && p[6] == 0) {
        offset =
            ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
        if (*p == '-') offset = -offset;
    } else if (!((*p == 'Z' || *p == 'z') && p[1] == 0)) {
        return std::nullopt;
    }
    auto at = static_cast<std::int64_t>(::timegm(&tm)) - offset;
    return static_cast<std::int64_t>(std::time(nullptr)) - at;
}

std::string human_ago(const std::string& time, const std::string& fallback) {
    auto s = seconds_since(time);
    return s ? human_duration(*s) + " ago" : fallback;
}

std::uint64_t parse_size(const std::string& text, const std::string& what) {
    std::size_t b = text.find_first_not_of(" \t"), e = text.find_last_not_of(" \t");
    std::string v = b == std::string::npos ? "" : text.substr(b, e - b + 1);
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || !std::isfinite(d) || d < 0)
        throw Error(Errc::usage, what + ": \"" + text + "\" is not a size",
                    "give bytes with an optional unit: 512MiB, 1.5GB, 1000");
    std::string unit(end);
    unit.erase(0, unit.find_first_not_of(" \t"));
    for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // go-humanize's ParseBytes (dive's CI files use it): SI k/kb = 1000, IEC ki/kib = 1024
    static const std::pair<const char*, double> units[] = {
        {"", 1},         {"b", 1},       {"k", 1e3},     {"kb", 1e3},     {"ki", 1024.0},
        {"kib", 1024.0}, {"m", 1e6},     {"mb", 1e6},    {"mi", 0x1p20},  {"mib", 0x1p20},
        {"g", 1e9},      {"gb", 1e9},    {"gi", 0x1p30}, {"gib", 0x1p30}, {"t", 1e12},
        {"tb", 1e12},    {"ti", 0x1p40}, {"tib", 0x1p40}};
    for (auto& [u, m] : units)
        if (unit == u) return static_cast<std::uint64_t>(d * m);
    throw Error(Errc::usage, what + ": unknown unit \"" + unit + "\" in \"" + text + "\"",
                "use B, kB, MB, GB, TB or KiB, MiB, GiB, TiB");
}

} // namespace gantry::units
