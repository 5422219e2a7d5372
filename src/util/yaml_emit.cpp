#include "util/yaml_emit.hpp"

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <utility>

namespace gantry::yaml {

namespace {

using ojson = nlohmann::ordered_json;

bool is_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
    return is_letter(c) || is_digit(c);
}

// Characters JSON writes as they are but YAML does not read back: DEL, the C1 controls and
// U+FFFE/U+FFFF are not printable in YAML (a reader refuses the whole file), and NEL, LS and PS
// are line breaks (folded into a space inside quotes).
bool yaml_needs_escape(char32_t c) {
    return c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029 || c == 0xfffe ||
           c == 0xffff;
}

// The code point of the UTF-8 sequence starting at s[i], and its length in bytes; {0, 1} for a
// byte that does not start a complete sequence.
std::pair<char32_t, size_t> code_point_at(const std::string& s, size_t i) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = byte(i);
    if (c < 0x80) return {c, 1};
    size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return {0, 1};
    char32_t cp = c & (0x7f >> len);
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (byte(i + k) & 0x3f);
    return {cp, len};
}

// A double-quoted scalar: JSON's string syntax (its escapes are YAML's), with the characters of
// yaml_needs_escape as \uXXXX. Invalid UTF-8 becomes U+FFFD, as in gantry's JSON.
std::string quote(const std::string& s) {
    std::string json = ojson(s).dump(-1, ' ', false, ojson::error_handler_t::replace);
    std::string out;
    out.reserve(json.size());
    for (size_t i = 0; i < json.size();) {
        auto [cp, len] = code_point_at(json, i);
        if (yaml_needs_escape(cp)) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
            out += buf;
        } else {
            out.append(json, i, len);
        }
        i += len;
    }
    return out;
}

// YAML allows an implicit key ("key: value") of at most 1024 characters; a longer one is written
// as an explicit key ("? key" and ": value" on the next line).
constexpr size_t kMaxImplicitKey = 1024;

// A string YAML reads back as the same string without quotes.
bool plain_safe(const std::string& s) {
    if (s.empty()) return false;
    static const std::array<const char*, 22> words = {
        "y",    "Y",    "yes",   "Yes",   "YES",   "n",  "N",  "no", "No",  "NO",  "true",
        "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"};
    for (auto* w : words)
        if (s == w) return false;
    if (s == "null" || s == "Null" || s == "NULL") return false;
    for (char c : s)
        if (!(is_alnum(c) || c == '_' || c == '.' || c == '/' || c == '=' || c == ':' || c == ',' ||
              c == '+' || c == '@' || c == '%' || c == '-'))
            return false;
    if (s.back() == ':') return false;
    if (s == "---") return false; // a document marker where it starts a line
    char c0 = s[0];
    if (is_letter(c0) || c0 == '_' || c0 == '/') return true;
    if (c0 == '-') return s.size() > 1 && (is_letter(s[1]) || s[1] == '-');
    if (is_digit(c0)) { // only version-like text such as 0.5.0 or 580.95.05
        int dots = 0;
        for (char c : s) {
            if (c == '.')
                ++dots;
            else if (!is_digit(c))
                return false;
        }
        return dots >= 2 && s.find("..") == std::string::npos;
    }
    return false;
}

std::string yaml_scalar(const ojson& v) {
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        return plain_safe(s) ? s : quote(s);
    }
    return v.dump();
}

void emit(const ojson& v, size_t indent, std::string& out, const std::string& first_prefix);

void emit_value_after_key(const ojson& v, size_t indent, std::string& out) {
    if (v.is_array()) {
        if (v.empty()) {
            out += " []\n";
            return;
        }
        out += "\n";
        for (const auto& item : v) emit(item, indent + 2, out, std::string(indent, ' ') + "- ");
    } else if (v.is_object()) {
        if (v.empty()) {
            out += " {}\n";
            return;
        }
        out += "\n";
        emit(v, indent + 2, out, std::string(indent + 2, ' '));
    } else {
        out += " " + yaml_scalar(v) + "\n";
    }
}

// Emits v whose first line starts with first_prefix (spaces, or spaces and "- ") and whose
// further lines are indented by `indent`.
void emit(const ojson& v, size_t indent, std::string& out, const std::string& first_prefix) {
    if (v.is_object()) {
        bool first = true;
        for (auto it = v.begin(); it != v.end(); ++it) {
            out += first ? first_prefix : std::string(indent, ' ');
            first = false;
            std::string key = plain_safe(it.key()) ? it.key() : quote(it.key());
            if (key.size() > kMaxImplicitKey)
                out += "? " + key + "\n" + std::string(indent, ' ') + ":";
            else
                out += key + ":";
            emit_value_after_key(it.value(), indent, out);
        }
        if (first) out += first_prefix + "{}\n";
    } else if (v.is_array()) {
        if (v.empty()) {
            out += first_prefix + "[]\n";
            return;
        }
        bool first = true;
        for (const auto& item : v) {
            emit(item, indent + 2, out, (first ? first_prefix : std::string(indent, ' ')) + "- ");
            first = false;
        }
    } else {
        out += first_prefix + yaml_scalar(v) + "\n";
    }
}

} // namespace

std::string emit(const nlohmann::ordered_json& value) {
    std::string out;
    emit(value, 0, out, "");
    return out;
}

} // namespace gantry::yaml
