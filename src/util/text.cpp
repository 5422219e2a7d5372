#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <iconv.h>

namespace gantry::text {

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    if (s.empty()) return out;
    for (std::size_t p = 0;;) {
        std::size_t q = s.find(sep, p);
        out.push_back(s.substr(p, q == s.npos ? s.npos : q - p));
        if (q == s.npos) return out;
        p = q + 1;
    }
}

std::vector<std::string_view> lines(std::string_view s) {
    std::vector<std::string_view> out;
    for (std::size_t p = 0; p < s.size();) {
        std::size_t q = std::min(s.find('\n', p), s.size());
        out.push_back(s.substr(p, q - p));
        p = q + 1;
    }
    return out;
}

std::string_view trim_left(std::string_view s, std::string_view chars) {
    std::size_t first = s.find_first_not_of(chars);
    return first == s.npos ? std::string_view() : s.substr(first);
}

std::string_view trim_right(std::string_view s, std::string_view chars) {
    std::size_t last = s.find_last_not_of(chars);
    return last == s.npos ? std::string_view() : s.substr(0, last + 1);
}

std::string_view trim(std::string_view s, std::string_view chars) {
    return trim_right(trim_left(s, chars), chars);
}

namespace {

char lower_ascii(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

char upper_ascii(char c) {
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

} // namespace

std::string url_escape(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = lower_ascii(c);
    return out;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = upper_ascii(c);
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return std::ranges::equal(a, b, {}, lower_ascii, lower_ascii);
}

bool contains(std::string_view s, std::string_view needle) {
    return s.find(needle) != s.npos;
}

std::string join_path(const std::string& a, const std::string& b) {
    if (a.empty()) return b;
    if (b.empty()) return a;
    return a + "/" + b;
}

std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string join(std::span<const std::string> items, std::string_view sep) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += sep;
        out += items[i];
    }
    return out;
}

std::string join_english(std::span<const std::string> items) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += i + 1 == items.size() ? " and " : ", ";
        out += items[i];
    }
    return out;
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::ranges::all_of(s, [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::uint32_t> to_u32(std::string_view s) {
    std::uint32_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// ---- words ----

std::vector<std::string_view> words(std::string_view s) {
    std::vector<std::string_view> out;
    for (std::size_t p = s.find_first_not_of(whitespace); p != s.npos;
         p = s.find_first_not_of(whitespace, p)) {
        std::size_t q = std::min(s.find_first_of(whitespace, p), s.size());
        out.push_back(s.substr(p, q - p));
        p = q;
    }
    return out;
}

std::string rfc3339(std::int64_t seconds) {
    std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::optional<std::size_t> first_non_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i; // ASCII: most text
    if (i == s.size()) return std::nullopt;
    // to UTF-32, which ends at U+10FFFF: glibc's UTF-8 to UTF-8 lets U+110000 and up by
    iconv_t cd = ::iconv_open("UTF-32LE", "UTF-8");
    if (cd == reinterpret_cast<iconv_t>(-1)) return i; // cannot tell: not taken for UTF-8
    char out[4096];
    char* in = const_cast<char*>(s.data() + i);
    std::size_t left = s.size() - i;
    std::optional<std::size_t> bad;
    while (left > 0) {
        char* o = out;
        std::size_t room = sizeof out;
        if (::iconv(cd, &in, &left, &o, &room) != static_cast<std::size_t>(-1)) break;
        if (errno == E2BIG) continue;                  // the output buffer filled: go on
        bad = static_cast<std::size_t>(in - s.data()); // EILSEQ, or EINVAL: cut off at the end
        break;
    }
    ::iconv_close(cd);
    return bad;
}

} // namespace gantry::text
