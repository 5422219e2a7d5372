// Go's literals inside an action: quoted strings with Go's escapes, raw strings, character
// constants and numbers (parse.cpp's lexer calls these).
#include "gotemplate/syntax.hpp"
#include "util/error.hpp"

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace gantry::gotemplate {

namespace {

bool literal_word_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

[[noreturn]] void literal_fail(std::string_view text, std::size_t pos, const std::string& what) {
    throw Error(Errc::usage, "template " + place(text, pos) + ": " + what);
}

} // namespace

long first_code_point(const std::string& s) {
    if (s.empty()) return -1;
    auto u = static_cast<unsigned char>(s[0]);
    int n = u < 0x80 ? 1 : (u >> 5) == 6 ? 2 : (u >> 4) == 14 ? 3 : (u >> 3) == 30 ? 4 : 0;
    if (n == 0 || s.size() != static_cast<std::size_t>(n)) return -1;
    long cp = n == 1 ? u : u & (0x7f >> n);
    for (int i = 1; i < n; ++i) cp = (cp << 6) | (static_cast<unsigned char>(s[i]) & 0x3f);
    return cp;
}

namespace {
void append_utf8(std::string_view text, std::string& out, std::uint32_t cp, std::size_t start) {
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        literal_fail(text, start, "escape names no Unicode character");
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}
} // namespace

// A quoted ("..." with Go's escapes, '...') or raw (`...`) string at Q; the index after it.
std::size_t lex_quoted(std::string_view text, std::size_t q, std::string& out) {
    char quote = text[q];
    std::size_t start = q++;
    for (;;) {
        if (q >= text.size()) literal_fail(text, start, "unterminated quoted string");
        char c = text[q++];
        if (c == quote) return q;
        if (quote != '`' && c == '\n') literal_fail(text, start, "unterminated quoted string");
        if (quote == '`' || c != '\\') {
            out += c;
            continue;
        }
        if (q >= text.size()) literal_fail(text, start, "unterminated quoted string");
        char e = text[q++];
        switch (e) {
        case 'n':
            out += '\n';
            break;
        case 't':
            out += '\t';
            break;
        case 'r':
            out += '\r';
            break;
        case 'a':
            out += '\a';
            break;
        case 'b':
            out += '\b';
            break;
        case 'f':
            out += '\f';
            break;
        case 'v':
            out += '\v';
            break;
        case '\\':
            out += '\\';
            break;
        case '"':
            out += '"';
            break;
        case '\'':
            out += '\'';
            break;
        case 'x':
        case 'u':
        case 'U': {
            int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            std::uint32_t v = 0;
            for (int i = 0; i < digits; ++i, ++q) {
                if (q >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[q])))
                    literal_fail(text, start, "malformed escape in quoted string");
                v = v * 16 +
                    static_cast<std::uint32_t>(
                        std::isdigit(static_cast<unsigned char>(text[q]))
                            ? text[q] - '0'
                            : (std::tolower(static_cast<unsigned char>(text[q])) - 'a' + 10));
            }
            if (e == 'x')
                out += static_cast<char>(v);
            else
                append_utf8(text, out, v, start);
            break;
        }
        default:
            if (e >= '0' && e <= '7') {
                unsigned v = static_cast<unsigned>(e - '0');
                for (int i = 0; i < 2; ++i, ++q) {
                    if (q >= text.size() || text[q] < '0' || text[q] > '7')
                        literal_fail(text, start, "malformed escape in quoted string");
                    v = v * 8 + static_cast<unsigned>(text[q] - '0');
                }
                if (v > 255) literal_fail(text, start, "malformed escape in quoted string");
                out += static_cast<char>(v);
                break;
            }
            literal_fail(text, start,
                         "unknown escape \\" + std::string(1, e) + " in quoted string");
        }
    }
}

std::size_t lex_number(std::string_view text, std::size_t q, json& value) {
    std::size_t start = q;
    std::size_t e = q;
    if (text[e] == '-' || text[e] == '+') ++e;
    while (e < text.size() &&
           (literal_word_char(text[e]) || text[e] == '.' ||
            ((text[e] == '-' || text[e] == '+') && (text[e - 1] == 'e' || text[e - 1] == 'E'))))
        ++e;
    std::string s;
    for (std::size_t i = start; i < e; ++i)
        if (text[i] != '_') s += text[i];
    const char* b = s.c_str();
    char* end = nullptr;
    errno = 0;
    bool hex = s.find("0x") != s.npos || s.find("0X") != s.npos;
    if (s.find_first_of(".eE") == s.npos || hex) {
        long long v = std::strtoll(b, &end, 0);
        if (errno == 0 && end && *end == '\0') {
            value = v;
            return e;
        }
    } else {
        double d = std::strtod(b, &end);
        if (errno == 0 && end && *end == '\0') {
            value = d;
            return e;
        }
    }
    literal_fail(text, start, "bad number syntax: " + std::string(text.substr(start, e - start)));
}

} // namespace gantry::gotemplate
