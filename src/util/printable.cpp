#include "util/printable.hpp"

namespace gantry::text {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// The length of the valid UTF-8 sequence at S[I] (RFC 3629: no overlong form, no surrogate,
// nothing past U+10FFFF) and its code point; 0 when S[I] begins none (Go's DecodeRune: width 1).
std::size_t decode(std::string_view s, std::size_t i, char32_t& cp) {
    auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) {
        return i + k < s.size() && at(k) >= lo && at(k) <= hi;
    };
    unsigned c = at(0);
    if (c >= 0xc2 && c <= 0xdf && cont(1)) {
        cp = (c & 0x1f) << 6 | (at(1) & 0x3f);
        return 2;
    }
    if (c >= 0xe0 && c <= 0xef) {
        unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        if (!cont(1, lo, hi) || !cont(2)) return 0;
        cp = (c & 0x0f) << 12 | (at(1) & 0x3f) << 6 | (at(2) & 0x3f);
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        if (!cont(1, lo, hi) || !cont(2) || !cont(3)) return 0;
        cp = (c & 0x07) << 18 | (at(1) & 0x3f) << 12 | (at(2) & 0x3f) << 6 | (at(3) & 0x3f);
        return 4;
    }
    return 0;
}

// The code points above U+007F the rule escapes.
bool escaped(char32_t cp) {
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

void escape_byte(std::string& out, unsigned char c) {
    static constexpr char named[] = "abtnvfr"; // \a (7) to \r (13), as Go names them
    if (c >= 7 && c <= 13) {
        out += '\\';
        out += named[c - 7];
        return;
    }
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
}

// S escaped into OUT; QUOTES: `"` and `\` too (strconv.Quote's body).
void append(std::string& out, std::string_view s, bool quotes) {
    out.reserve(out.size() + s.size());
    for (std::size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                escape_byte(out, c);
            else {
                if (quotes && (c == '"' || c == '\\')) out += '\\';
                out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        char32_t cp = 0;
        std::size_t n = decode(s, i, cp);
        if (n == 0) {
            escape_byte(out, c);
            ++i;
        } else if (escaped(cp)) {
            out += "\\u";
            for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 15];
            i += n;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
}

} // namespace

bool is_printable(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) return false;
            ++i;
            continue;
        }
        char32_t cp = 0;
        std::size_t n = decode(s, i, cp);
        if (n == 0 || escaped(cp)) return false;
        i += n;
    }
    return true;
}

std::string printable(std::string_view s) {
    if (is_printable(s)) return std::string(s);
    std::string out;
    append(out, s, false);
    return out;
}

std::string quote(std::string_view s) {
    std::string out = "\"";
    append(out, s, true);
    out += '"';
    return out;
}

} // namespace gantry::text
