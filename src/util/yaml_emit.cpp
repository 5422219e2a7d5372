#include "util/yaml_emit.hpp"

#include <array>
#include <nlohmann/json.hpp>

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

std::string quote(const std::string& s) {
    return ojson(s).dump(-1, ' ', false, ojson::error_handler_t::replace);
}

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
            out += (plain_safe(it.key()) ? it.key() : quote(it.key())) + ":";
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
