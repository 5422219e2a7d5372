#include "util/units.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <string>
#include <utility>

namespace gantry::units {

DecimalScaled decimal_scaled(double bytes) {
    static const char* const units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000 && u < 4) {
        bytes /= 1000;
        ++u;
    }
    return {bytes, units[u], u == 0};
}

std::string human_size(std::uint64_t b) {
    auto s = decimal_scaled(static_cast<double>(b));
    char buf[32];
    if (s.whole_bytes)
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
    else
        std::snprintf(buf, sizeof buf, s.value < 10 ? "%.2f %s" : "%.1f %s", s.value, s.unit);
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

namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
bool is_hex_letter(char c) {
    return ascii_lower(c) >= 'a' && ascii_lower(c) <= 'f';
}

// Go's rule for '_' in a number (strconv's underscoreOK): only between digits, or between a
// base prefix and a digit.
bool go_underscores_ok(std::string_view s) {
    char saw = '^'; // ^ the start, 0 a digit or base prefix, _ an underscore, ! anything else
    std::size_t i = 0;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
    bool hex = false;
    if (s.size() >= 2 && s[0] == '0' &&
        (ascii_lower(s[1]) == 'b' || ascii_lower(s[1]) == 'o' || ascii_lower(s[1]) == 'x')) {
        i = 2;
        saw = '0';
        hex = ascii_lower(s[1]) == 'x';
    }
    for (; i < s.size(); ++i) {
        if (is_digit(s[i]) || (hex && is_hex_letter(s[i]))) {
            saw = '0';
        } else if (s[i] == '_') {
            if (saw != '0') return false;
            saw = '_';
        } else {
            if (saw == '_') return false;
            saw = '!';
        }
    }
    return saw != '_';
}

// A number in the syntax of Go's strconv.ParseFloat, with which docker's RAMInBytes reads it:
// an optional sign; decimal digits with an optional '.' and e-exponent ("1", "1.", ".5",
// "1.5e3"), or 0x and hex digits with a mandatory p-exponent ("0x1p10"); '_' between digits.
// Nothing for anything else, NaN and the infinities included (no size). Converted with strtod
// (gantry never changes LC_NUMERIC): a number too large for a double is HUGE_VAL, as Go's
// range error; one too small to tell from zero is zero, as in Go.
std::optional<double> parse_go_float(std::string_view s) {
    std::size_t i = 0;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    bool hex = false;
    if (i + 2 < s.size() && s[i] == '0' && ascii_lower(s[i + 1]) == 'x') {
        hex = true;
        i += 2;
    }
    bool underscores = false, dot = false, digits = false;
    for (; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '_') {
            underscores = true;
        } else if (c == '.') {
            if (dot) break;
            dot = true;
        } else if (is_digit(c) || (hex && is_hex_letter(c))) {
            digits = true;
        } else {
            break;
        }
    }
    if (!digits) return std::nullopt;
    if (i < s.size() && ascii_lower(s[i]) == (hex ? 'p' : 'e')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        if (i >= s.size() || !is_digit(s[i])) return std::nullopt;
        for (; i < s.size() && (is_digit(s[i]) || s[i] == '_'); ++i)
            if (s[i] == '_') underscores = true;
    } else if (hex) {
        return std::nullopt; // a hex number needs its exponent
    }
    if (i != s.size() || (underscores && !go_underscores_ok(s))) return std::nullopt;
    std::string plain;
    for (char c : s)
        if (c != '_') plain += c;
    char* end = nullptr;
    const double v = std::strtod(plain.c_str(), &end);
    if (end != plain.c_str() + plain.size()) return std::nullopt;
    return v;
}

const char* const kSizeHint =
    "sizes use docker's binary units: a number and an optional unit b, k, m, g, t or p "
    "(1k = 1024; kb and kib alike), e.g. 512k = 512 KiB, 8g = 8 GiB";

[[noreturn]] void not_a_size(const std::string& what, const std::string& text,
                             const std::string& why = {}) {
    throw Error(Errc::usage,
                what + ": invalid value \"" + text + "\": not a size" +
                    (why.empty() ? "" : " (" + why + ")"),
                kSizeHint);
}

} // namespace

std::uint64_t parse_size(const std::string& text, const std::string& what) {
    // docker's go-units parseSize: the number ends at the first space, or else at the last
    // digit or '.'; what follows it is the unit.
    const std::string_view s = text;
    std::string_view number, unit;
    if (auto space = s.find(' '); space != s.npos) {
        number = s.substr(0, space);
        unit = s.substr(space + 1);
    } else {
        auto last = s.find_last_of("0123456789.");
        if (last == s.npos) not_a_size(what, text);
        number = s.substr(0, last + 1);
        unit = s.substr(last + 1);
    }
    const std::optional<double> value = parse_go_float(number);
    if (!value) not_a_size(what, text);
    if (*value < 0) not_a_size(what, text, "a size cannot be negative");
    double multiplier = 1;
    if (!unit.empty()) {
        const std::string u = text::lower(unit);
        static constexpr std::string_view kLetters = "kmgtp";
        const auto letter = kLetters.find(u[0]);
        const bool known =
            u.size() <= 3 && (u == "b" || (letter != kLetters.npos &&
                                           (u.size() == 1 || (u.size() == 2 && u[1] == 'b') ||
                                            u.substr(1) == "ib")));
        if (!known)
            not_a_size(what, text,
                       "unknown unit \"" + std::string(unit) + "\": use b, k, m, g, t or p");
        if (letter != kLetters.npos) // 1024^(letter + 1), exactly (ldexp would bring in libm)
            multiplier = static_cast<double>(std::uint64_t{1} << (10 * (letter + 1)));
    }
    const double bytes = *value * multiplier;
    if (!(bytes < 0x1p63)) // docker's int64: 8 EiB and more do not fit
        throw Error(Errc::usage, what + ": " + text + " is too large",
                    "a size is less than 2^63 bytes (8192p); " + std::string(kSizeHint));
    return static_cast<std::uint64_t>(bytes); // whole bytes, truncated as docker's int64()
}

std::uint64_t parse_dive_size(const std::string& text, const std::string& what) {
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
    for (auto& [u, m] : units) {
        if (unit != u) continue;
        // go-humanize refuses what a uint64 cannot hold; converting it would be undefined
        // (found by fuzz/fuzz_cli_values: "18446744073709551616")
        if (!(d * m < 0x1p64))
            throw Error(Errc::usage, what + ": \"" + text + "\" is too large",
                        "a size is less than 2^64 bytes (16 EiB)");
        return static_cast<std::uint64_t>(d * m);
    }
    throw Error(Errc::usage, what + ": unknown unit \"" + unit + "\" in \"" + text + "\"",
                "use B, kB, MB, GB, TB or KiB, MiB, GiB, TiB");
}

bool consume_digits(std::string_view s, std::size_t& i, std::uint64_t& v, std::size_t& ndigits) {
    constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    bool ok = true;
    v = 0;
    ndigits = 0;
    for (; i < s.size() && is_digit(s[i]); ++i, ++ndigits) {
        std::uint64_t d = static_cast<std::uint64_t>(s[i] - '0');
        if (!ok || v > (max - d) / 10) {
            ok = false;
            v = max;
        } else {
            v = v * 10 + d;
        }
    }
    return ok;
}

std::int64_t parse_duration(const std::string& text) {
    static const std::pair<const char*, std::int64_t> units[] = {
        {"ns", 1},           {"us", 1000},         {"ms", 1000000},
        {"s", 1000000000LL}, {"m", 60000000000LL}, {"h", 3600000000000LL}};
    if (text.empty()) throw Error(Errc::invalid, "an empty duration");
    std::int64_t total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t j = i;
        while (j < text.size() &&
               (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.'))
            ++j;
        // a number as Go's time.ParseDuration reads one: digits, at most one '.', a digit
        // on one side of it ("1.5", ".5", "5.")
        std::string_view number(text.data() + i, j - i);
        auto dots = std::count(number.begin(), number.end(), '.');
        if (j == i || j - i > 12 || dots > 1 || number == ".")
            throw Error(Errc::invalid, "\"" + text + "\" is not a duration",
                        "write it as docker does: 30s, 1m30s, 500ms");
        // (by hand: std::from_chars for double brings libm's fesetround into every start)
        std::uint64_t whole = 0, frac = 0, scale = 1;
        bool after_dot = false;
        for (char c : number) {
            if (c == '.') {
                after_dot = true;
            } else if (after_dot) {
                frac = frac * 10 + static_cast<std::uint64_t>(c - '0');
                scale *= 10;
            } else {
                whole = whole * 10 + static_cast<std::uint64_t>(c - '0');
            }
        }
        double value =
            static_cast<double>(whole) + static_cast<double>(frac) / static_cast<double>(scale);
        std::size_t k = j;
        while (k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) ++k;
        std::string unit = text.substr(j, k - j);
        auto u = std::find_if(std::begin(units), std::end(units),
                              [&](const auto& p) { return unit == p.first; });
        if (u == std::end(units))
            throw Error(Errc::invalid, "\"" + text + "\" is not a duration",
                        "write it as docker does: 30s, 1m30s, 500ms");
        // at most ~292 years in all, as Go's durations (int64 nanoseconds)
        double ns = value * static_cast<double>(u->second);
        constexpr double max = 9223372036854775808.0; // 2^63
        if (ns >= max || static_cast<double>(total) + ns >= max)
            throw Error(Errc::invalid, "\"" + text + "\" is longer than a duration can be",
                        "durations go up to about 290 years (2562047h)");
        total += static_cast<std::int64_t>(ns);
        i = k;
    }
    return total;
}

} // namespace gantry::units
