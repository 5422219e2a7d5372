#include "util/units.hpp"

#include "util/error.hpp"

#include <cctype>
#include <cstdio>

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

std::uint64_t parse_size(const std::string& s) {
    size_t pos = 0;
    double v = 0;
    try {
        v = std::stod(s, &pos);
    } catch (...) {
        throw Error(Errc::usage, "invalid size \"" + s + "\"", "use e.g. 512MiB, 1GiB, 2G");
    }
    std::string unit = s.substr(pos);
    for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    double m = 1;
    if (unit == "" || unit == "b")
        m = 1;
    else if (unit == "k" || unit == "kb")
        m = 1e3;
    else if (unit == "kib")
        m = 1024;
    else if (unit == "m" || unit == "mb")
        m = 1e6;
    else if (unit == "mib")
        m = 1024.0 * 1024;
    else if (unit == "g" || unit == "gb")
        m = 1e9;
    else if (unit == "gib")
        m = 1024.0 * 1024 * 1024;
    else
        throw Error(Errc::usage, "invalid size unit in \"" + s + "\"", "use e.g. 512MiB, 1GiB, 2G");
    return static_cast<std::uint64_t>(v * m);
}

} // namespace gantry::units
