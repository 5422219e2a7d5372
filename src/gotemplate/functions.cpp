// The values of Go's templates: printing (%v), truth, json, and the functions a template calls
// (Go's builtins and docker's: templates.Parse's json, join, split, lower, upper, title, pad,
// truncate).
#include "gotemplate/functions.hpp"

#include "gotemplate/syntax.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gantry::gotemplate {

namespace {

constexpr std::array<std::string_view, 25> kFunctionNames{
    "and",   "or",    "not",   "len",   "index",    "slice",   "eq",   "ne",   "lt",
    "le",    "gt",    "ge",    "print", "printf",   "println", "json", "join", "split",
    "lower", "upper", "title", "pad",   "truncate", "html",    "js"};

[[noreturn]] void fn_fail(const std::string& what) {
    throw Error(Errc::usage, what);
}

std::string print_number(const json& v) {
    if (v.is_number_integer()) return v.dump();
    double d = v.get<double>();
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
    // Go's %v of a float64 (strconv's 'g', shortest): the shortest digits that read back, in
    // %e form for an exponent below -4 or from 6 on (1e+06, 1.5e+07), else in %f form
    char buf[64];
    int prec = 1;
    for (; prec < 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (std::strtod(buf, nullptr) == d) break;
    }
    std::snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
    int exp = std::atoi(std::strchr(buf, 'e') + 1);
    if (exp < -4 || exp >= 6) {
        std::string s = buf; // C's e+05 is Go's e+05 too: two digits at least
        auto e = s.find('e');
        std::string mant = s.substr(0, e);
        if (mant.find('.') != mant.npos) {
            while (mant.back() == '0') mant.pop_back();
            if (mant.back() == '.') mant.pop_back();
        }
        return mant + s.substr(e);
    }
    std::snprintf(buf, sizeof buf, "%.*f", std::max(0, prec - 1 - exp), d);
    return buf;
}

std::string as_string(const json& v, const char* fn) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) fn_fail(std::string(fn) + ": expected a string, got nothing (<nil>)");
    return print_value(v);
}

long long as_int(const json& v, const char* fn) {
    if (v.is_number_integer() || v.is_number_unsigned()) return v.get<long long>();
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
        std::fabs(v.get<double>()) < 9e18)
        return static_cast<long long>(v.get<double>());
    fn_fail(std::string(fn) + ": expected an integer, got " + print_value(v));
}

std::size_t utf8_length(std::string_view s) {
    std::size_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
    return n;
}

// The first N code points of S.
std::string utf8_prefix(const std::string& s, std::size_t n) {
    std::size_t i = 0, count = 0;
    for (; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xc0) != 0x80) {
            if (count == n) break;
            ++count;
        }
    }
    return s.substr(0, i);
}

// Go's comparison: numbers by value, strings, bools, nil; other kinds cannot be compared.
int kind_of(const json& v) {
    if (v.is_number()) return 1;
    if (v.is_string()) return 2;
    if (v.is_boolean()) return 3;
    if (v.is_null()) return 4;
    return 0;
}

bool equal(const json& a, const json& b) {
    int ka = kind_of(a), kb = kind_of(b);
    if (ka == 0 || kb == 0) fn_fail("eq: cannot compare " + print_value(ka ? b : a));
    if (ka != kb) fn_fail("eq: incompatible types for comparison");
    if (ka == 1) {
        if (a.is_number_float() || b.is_number_float()) return a.get<double>() == b.get<double>();
        if (a.is_number_unsigned() || b.is_number_unsigned())
            return a.get<long long>() >= 0 && b.get<long long>() >= 0 &&
                   a.get<unsigned long long>() == b.get<unsigned long long>();
        return a.get<long long>() == b.get<long long>();
    }
    return a == b;
}

int compare(const json& a, const json& b, const char* fn) {
    int ka = kind_of(a), kb = kind_of(b);
    if (ka != kb || (ka != 1 && ka != 2))
        fn_fail(std::string(fn) + ": invalid type for comparison");
    if (ka == 2) return a.get<std::string>().compare(b.get<std::string>());
    double x = a.get<double>(), y = b.get<double>();
    if (a.is_number_integer() && b.is_number_integer()) {
        auto i = a.get<long long>(), j = b.get<long long>();
        return i < j ? -1 : i > j;
    }
    return x < y ? -1 : x > y;
}

std::string printf_value(const std::string& format, const std::vector<json>& args) {
    std::string out;
    std::size_t next = 0;
    for (std::size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%') {
            out += format[i];
            continue;
        }
        if (++i >= format.size()) {
            out += "%!(NOVERB)";
            break;
        }
        bool left = false;
        if (format[i] == '-') {
            left = true;
            ++i;
        }
        std::size_t width = 0;
        while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i])) &&
               width < 1000)
            width = width * 10 + static_cast<std::size_t>(format[i++] - '0');
        if (i >= format.size()) {
            out += "%!(NOVERB)";
            break;
        }
        char verb = format[i];
        if (verb == '%') {
            out += '%';
            continue;
        }
        if (next >= args.size()) {
            out += std::string("%!") + verb + "(MISSING)";
            continue;
        }
        const json& a = args[next++];
        std::string s;
        switch (verb) {
        case 'v':
        case 's':
            s = print_value(a);
            break;
        case 'q':
            s = a.is_string() ? to_json(a) : "%!q(" + print_value(a) + ")";
            break;
        case 'd':
            s = a.is_number_integer() || a.is_number_unsigned() ? a.dump()
                                                                : "%!d(" + print_value(a) + ")";
            break;
        case 't':
            s = a.is_boolean() ? print_value(a) : "%!t(" + print_value(a) + ")";
            break;
        default:
            s = std::string("%!") + verb + "(" + print_value(a) + ")";
        }
        std::size_t len = utf8_length(s);
        if (len < width)
            s = left ? s + std::string(width - len, ' ') : std::string(width - len, ' ') + s;
        out += s;
    }
    if (next < args.size()) {
        out += "%!(EXTRA ";
        for (std::size_t i = next; i < args.size(); ++i)
            out += (i > next ? ", " : "") + print_value(args[i]);
        out += ")";
    }
    return out;
}

std::string print_args(const std::vector<json>& args, bool spaces) {
    std::string out;
    for (std::size_t i = 0; i < args.size(); ++i) {
        // fmt.Sprint: a space between operands when neither is a string
        if (i > 0 && (spaces || (!args[i - 1].is_string() && !args[i].is_string()))) out += ' ';
        out += print_value(args[i]);
    }
    return out;
}

void want_args(const std::string& fn, const std::vector<json>& args, std::size_t lo,
               std::size_t hi) {
    if (args.size() < lo || args.size() > hi)
        fn_fail("wrong number of args for " + fn + ": want " +
                (lo == hi ? std::to_string(lo) : std::to_string(lo) + " or more") + " got " +
                std::to_string(args.size()));
}

json strip_hidden(const json& v) {
    if (v.is_object()) {
        json o = json::object();
        for (auto it = v.begin(); it != v.end(); ++it)
            if (it.key().empty() || it.key()[0] != '$') o[it.key()] = strip_hidden(it.value());
        return o;
    }
    if (v.is_array()) {
        json a = json::array();
        for (auto& e : v) a.push_back(strip_hidden(e));
        return a;
    }
    return v;
}

} // namespace

bool is_function(std::string_view name) {
    return std::find(kFunctionNames.begin(), kFunctionNames.end(), name) != kFunctionNames.end() ||
           name == "urlquery" || name == "call";
}

json no_value() {
    return json{{"$no_value", true}};
}

bool is_no_value(const json& v) {
    return v.is_object() && v.size() == 1 && v.contains("$no_value");
}

std::string print_value(const json& v) {
    if (is_no_value(v)) return "<no value>";
    switch (v.type()) {
    case json::value_t::string:
        return v.get<std::string>();
    case json::value_t::null:
        return "<nil>";
    case json::value_t::boolean:
        return v.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
        return print_number(v);
    case json::value_t::array: {
        std::string s = "[";
        for (std::size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + print_value(v[i]);
        return s + "]";
    }
    case json::value_t::object: {
        std::string s = "map[";
        bool first = true;
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (!it.key().empty() && it.key()[0] == '$') continue;
            s += (first ? "" : " ") + it.key() + ":" + print_value(it.value());
            first = false;
        }
        return s + "]";
    }
    default:
        return "<nil>";
    }
}

std::string to_json(const json& v) {
    if (is_no_value(v)) return "null";
    std::string s = strip_hidden(v).dump(-1, ' ', false, json::error_handler_t::replace);
    // Go's encoding/json where nlohmann's differs: \b and \f as \u0008 and \u000c, and
    // U+2028 and U+2029 escaped (JavaScript's line separators); and, unlike Go, the C1 controls
    // U+0080-U+009F as \u0080-\u009f: NEL (U+0085) ends a line for Python's splitlines, and a
    // JSON line per event or row must stay one line (docs/printed-text.md)
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
            char e = s[++i];
            out += e == 'b' ? "\\u0008" : e == 'f' ? "\\u000c" : std::string{'\\', e};
        } else if (s.compare(i, 2, "\xe2\x80") == 0 && i + 2 < s.size() &&
                   (s[i + 2] == '\xa8' || s[i + 2] == '\xa9')) {
            out += s[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
            i += 2;
        } else if (s[i] == '\xc2' && i + 1 < s.size() &&
                   static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(s[i + 1]) <= 0x9f) {
            static constexpr char hex[] = "0123456789abcdef";
            unsigned char c = static_cast<unsigned char>(s[++i]);
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += s[i];
        }
    }
    return out;
}

bool truth(const json& v) {
    if (is_no_value(v)) return false;
    switch (v.type()) {
    case json::value_t::null:
        return false;
    case json::value_t::boolean:
        return v.get<bool>();
    case json::value_t::number_integer:
        return v.get<long long>() != 0;
    case json::value_t::number_unsigned:
        return v.get<unsigned long long>() != 0;
    case json::value_t::number_float:
        return v.get<double>() != 0;
    case json::value_t::string:
        return !v.get_ref<const std::string&>().empty();
    case json::value_t::array:
    case json::value_t::object:
        return !v.empty();
    default:
        return false;
    }
}

json call_function(const std::string& fn, const std::vector<json>& args, bool header) {
    if (fn == "html" || fn == "js" || fn == "urlquery" || fn == "call")
        fn_fail("function \"" + fn + "\" is not available in --format templates");
    // docker's header pass: its own functions return the header they are given
    if (header && (fn == "json" || fn == "join" || fn == "split" || fn == "lower" ||
                   fn == "upper" || fn == "title" || fn == "pad" || fn == "truncate")) {
        want_args(fn, args, 1, 3);
        return args[0].is_string() ? args[0] : json(print_value(args[0]));
    }
    if (fn == "not") {
        want_args(fn, args, 1, 1);
        return !truth(args[0]);
    }
    if (fn == "len") {
        want_args(fn, args, 1, 1);
        const auto& a = args[0];
        if (a.is_string()) return a.get_ref<const std::string&>().size();
        if (a.is_array()) return a.size();
        if (a.is_object()) { // hidden keys are not the value's
            std::size_t n = 0;
            for (auto it = a.begin(); it != a.end(); ++it)
                n += it.key().empty() || it.key()[0] != '$';
            return n;
        }
        fn_fail("len of " + print_value(a) + ": not a string, list or map");
    }
    if (fn == "index") {
        want_args(fn, args, 1, 64);
        json cur = args[0];
        for (std::size_t i = 1; i < args.size(); ++i) {
            if (cur.is_object()) {
                if (!args[i].is_string()) fn_fail("index of a map with a non-string key");
                auto it = cur.find(args[i].get<std::string>());
                cur =
                    it == cur.end() ? json("") : *it; // the zero value: docker's maps hold strings
            } else if (cur.is_array() || cur.is_string()) {
                auto k = as_int(args[i], "index");
                std::size_t n =
                    cur.is_array() ? cur.size() : cur.get_ref<const std::string&>().size();
                if (k < 0 || static_cast<std::size_t>(k) >= n)
                    fn_fail("index out of range: " + std::to_string(k));
                cur = cur.is_array()
                          ? json(cur[static_cast<std::size_t>(k)])
                          : json(static_cast<unsigned char>(
                                cur.get_ref<const std::string&>()[static_cast<std::size_t>(k)]));
            } else if (cur.is_null()) {
                fn_fail("index of untyped nil");
            } else {
                fn_fail("can't index item of type " + std::string(cur.type_name()));
            }
        }
        return cur;
    }
    if (fn == "slice") {
        want_args(fn, args, 1, 3);
        const auto& a = args[0];
        if (!a.is_string() && !a.is_array())
            fn_fail("can't slice item of type " + std::string(a.type_name()));
        long long n = a.is_string() ? static_cast<long long>(a.get_ref<const std::string&>().size())
                                    : static_cast<long long>(a.size());
        long long lo = args.size() > 1 ? as_int(args[1], "slice") : 0;
        long long hi = args.size() > 2 ? as_int(args[2], "slice") : n;
        if (lo < 0 || hi < lo || hi > n) fn_fail("slice: index out of range");
        if (a.is_string())
            return a.get_ref<const std::string&>().substr(static_cast<std::size_t>(lo),
                                                          static_cast<std::size_t>(hi - lo));
        return json(a.begin() + lo, a.begin() + hi);
    }
    if (fn == "eq") {
        want_args(fn, args, 2, 64);
        for (std::size_t i = 1; i < args.size(); ++i)
            if (equal(args[0], args[i])) return true;
        return false;
    }
    if (fn == "ne") {
        want_args(fn, args, 2, 2);
        return !equal(args[0], args[1]);
    }
    if (fn == "lt" || fn == "le" || fn == "gt" || fn == "ge") {
        want_args(fn, args, 2, 2);
        int c = compare(args[0], args[1], fn.c_str());
        return fn == "lt" ? c < 0 : fn == "le" ? c <= 0 : fn == "gt" ? c > 0 : c >= 0;
    }
    if (fn == "print") return print_args(args, false);
    if (fn == "println") return print_args(args, true) + "\n";
    if (fn == "printf") {
        want_args(fn, args, 1, 64);
        return printf_value(as_string(args[0], "printf"),
                            std::vector<json>(args.begin() + 1, args.end()));
    }
    if (fn == "json") {
        want_args(fn, args, 1, 1);
        return to_json(args[0]);
    }
    if (fn == "join") {
        want_args(fn, args, 2, 2);
        if (!args[0].is_array() && !args[0].is_null())
            fn_fail("join: expected a list, got " + print_value(args[0]));
        std::string sep = as_string(args[1], "join"), out;
        bool first = true;
        for (auto& e : args[0]) {
            out += (first ? "" : sep) + print_value(e);
            first = false;
        }
        return out;
    }
    if (fn == "split") {
        want_args(fn, args, 2, 2);
        std::string s = as_string(args[0], "split"), sep = as_string(args[1], "split");
        json out = json::array();
        if (sep.empty()) { // Go: after each UTF-8 sequence
            for (std::size_t i = 0; i < s.size();) {
                std::size_t j = i + 1;
                while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xc0) == 0x80) ++j;
                out.push_back(s.substr(i, j - i));
                i = j;
            }
            return out;
        }
        std::size_t p = 0;
        for (;;) {
            auto q = s.find(sep, p);
            out.push_back(s.substr(p, q == s.npos ? s.npos : q - p));
            if (q == s.npos) break;
            p = q + sep.size();
        }
        return out;
    }
    if (fn == "lower" || fn == "upper" || fn == "title") {
        want_args(fn, args, 1, 1);
        std::string s = as_string(args[0], fn.c_str());
        bool start = true;
        for (auto& c : s) {
            auto u = static_cast<unsigned char>(c);
            if (fn == "lower")
                c = static_cast<char>(std::tolower(u));
            else if (fn == "upper" || start)
                c = u < 0x80 ? static_cast<char>(std::toupper(u)) : c;
            start = !(std::isalnum(u) || u >= 0x80 || c == '_' || c == '\'');
        }
        return s;
    }
    if (fn == "pad") {
        want_args(fn, args, 3, 3);
        auto l = as_int(args[1], "pad"), r = as_int(args[2], "pad");
        if (l < 0 || r < 0 || l > 4096 || r > 4096) fn_fail("pad: widths must be 0 to 4096");
        return std::string(static_cast<std::size_t>(l), ' ') + as_string(args[0], "pad") +
               std::string(static_cast<std::size_t>(r), ' ');
    }
    if (fn == "truncate") {
        want_args(fn, args, 2, 2);
        std::string s = as_string(args[0], "truncate");
        auto n = as_int(args[1], "truncate");
        if (n < 0) fn_fail("truncate: negative length");
        return utf8_prefix(s, static_cast<std::size_t>(n));
    }
    fn_fail("function \"" + fn + "\" not defined");
}

} // namespace gantry::gotemplate
