#include "image_facts/image_facts.hpp"

#include "util/text.hpp"

#include <cctype>
#include <cstdlib>
#include <string_view>

namespace gantry::image_facts {

namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Lines of text (without '\n' or a trailing '\r'), bounded: headers and METADATA are small.
template <typename F>
void for_lines(const std::string& text, F&& fn) {
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t nl = text.find('\n', at);
        std::string_view line(text.data() + at, (nl == std::string::npos ? text.size() : nl) - at);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!fn(line)) return;
        if (nl == std::string::npos) return;
        at = nl + 1;
    }
}

bool valid_version(std::string_view v) {
    if (v.empty() || v.size() > 64) return false;
    for (char c : v)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '+' && c != '-' &&
            c != '_' && c != '!')
            return false;
    return true;
}

} // namespace

std::string normalize_pip_name(const std::string& name) {
    std::string out;
    bool sep = false;
    for (char c : name) {
        if (c == '-' || c == '_' || c == '.') {
            sep = true;
            continue;
        }
        if (sep && !out.empty()) out += '-';
        sep = false;
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

std::optional<PipPackage> parse_pip_metadata(const std::string& text, const std::string& path) {
    PipPackage p;
    p.path = path;
    std::string name, version;
    int lines = 0;
    for_lines(text, [&](std::string_view line) {
        if (line.empty() || ++lines > 10000) return false; // the body follows the headers
        auto colon = line.find(':');
        if (colon == std::string_view::npos || line[0] == ' ' || line[0] == '\t') return true;
        std::string key = text::lower(line.substr(0, colon));
        std::string value(text::trim(line.substr(colon + 1)));
        if (key == "name" && name.empty()) name = value;
        if (key == "version" && version.empty()) version = value;
        if (key == "requires-dist" && p.pins.size() < 256) {
            // "numpy==1.26.4; platform_system == \"Linux\"" (a marker after ';')
            std::string req = value.substr(0, value.find(';'));
            auto eq = req.find("==");
            if (eq != std::string::npos && req.find_first_of("<>!~,", 0) == std::string::npos) {
                std::string n(text::trim(std::string_view(req).substr(0, eq)));
                std::string v(text::trim(std::string_view(req).substr(eq + 2)));
                auto bracket = n.find('[');
                if (bracket != std::string::npos) n = text::trim(n.substr(0, bracket));
                if (!n.empty() && valid_version(v)) p.pins.emplace_back(normalize_pip_name(n), v);
            }
        }
        return true;
    });
    if (name.empty() || !valid_version(version) || name.size() > 200) return std::nullopt;
    p.name = normalize_pip_name(name);
    p.version = version;
    return p;
}

std::optional<long> header_define(const std::string& text, const std::string& name) {
    std::optional<long> out;
    for_lines(text, [&](std::string_view line) {
        std::string l(text::trim(line));
        if (!l.starts_with("#")) return true;
        std::string_view rest(l);
        rest.remove_prefix(1);
        rest = text::trim_left(rest, " \t");
        if (!rest.starts_with("define")) return true;
        rest.remove_prefix(6);
        if (rest.empty() || (rest.front() != ' ' && rest.front() != '\t')) return true;
        rest = text::trim_left(rest, " \t");
        if (!rest.starts_with(name)) return true;
        rest.remove_prefix(name.size());
        if (rest.empty() || (rest.front() != ' ' && rest.front() != '\t')) return true;
        std::string value(text::trim(rest));
        if (auto c = value.find("//"); c != std::string::npos)
            value = text::trim(value.substr(0, c));
        if (auto c = value.find("/*"); c != std::string::npos)
            value = text::trim(value.substr(0, c));
        if (value.empty() || value.size() > 9) return true;
        for (char ch : value)
            if (!is_digit(ch)) return true;
        out = std::strtol(value.c_str(), nullptr, 10);
        return false;
    });
    return out;
}

std::optional<std::string> header_version(const std::string& text, const char* major,
                                          const char* minor, const char* patch) {
    auto x = header_define(text, major), y = header_define(text, minor),
         z = header_define(text, patch);
    if (!x || !y || !z) return std::nullopt;
    return std::to_string(*x) + "." + std::to_string(*y) + "." + std::to_string(*z);
}

std::optional<std::string> file_name_version(const std::string& name, const std::string& stem,
                                             int min_components) {
    if (name.size() <= stem.size() || !name.starts_with(stem)) return std::nullopt;
    std::string v = name.substr(stem.size());
    if (v.size() > 32) return std::nullopt;
    int comps = 1;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '.') {
            if (i == 0 || i + 1 == v.size() || v[i - 1] == '.') return std::nullopt;
            ++comps;
        } else if (!is_digit(v[i])) {
            return std::nullopt;
        }
    }
    if (comps < min_components) return std::nullopt;
    return v;
}

std::optional<std::string> dpkg_package_version(const std::string& status, const std::string& pkg) {
    std::optional<std::string> out;
    std::string package, version, state;
    auto finish = [&] {
        if (package == pkg && !version.empty() && state.ends_with("installed") && !out)
            out = version;
        package.clear();
        version.clear();
        state.clear();
    };
    for_lines(status, [&](std::string_view line) {
        if (line.empty()) {
            finish();
            return true;
        }
        if (line[0] == ' ' || line[0] == '\t') return true;
        auto colon = line.find(':');
        if (colon == std::string_view::npos) return true;
        std::string key(line.substr(0, colon));
        if (key == "Package") package = text::trim(line.substr(colon + 1));
        // "libc6:amd64" in some multi-arch databases
        if (key == "Package" && package.find(':') != std::string::npos)
            package = package.substr(0, package.find(':'));
        if (key == "Version") version = text::trim(line.substr(colon + 1));
        if (key == "Status") state = text::trim(line.substr(colon + 1));
        return true;
    });
    finish();
    if (out && !valid_version(*out)) {
        // epochs ("1:2.3") are valid in dpkg; keep what follows the epoch
        auto c = out->find(':');
        if (c == std::string::npos || !valid_version(out->substr(c + 1))) return std::nullopt;
        out = out->substr(c + 1);
    }
    return out;
}

std::optional<std::pair<int, int>> major_minor(const std::string& version) {
    std::size_t i = 0;
    auto number = [&](int& v) {
        std::size_t start = i;
        long n = 0;
        while (i < version.size() && is_digit(version[i]) && i - start < 6)
            n = n * 10 + (version[i++] - '0');
        v = static_cast<int>(n);
        return i > start;
    };
    int a = 0, b = 0;
    if (!number(a) || i >= version.size() || version[i] != '.') return std::nullopt;
    ++i;
    if (!number(b)) return std::nullopt;
    return std::pair{a, b};
}

std::optional<std::string> python_assignment(const std::string& py, const std::string& key) {
    std::size_t at = 0;
    while ((at = py.find(key, at)) != std::string::npos) {
        bool line_start = at == 0 || py[at - 1] == '\n';
        std::size_t eq = py.find('=', at);
        std::size_t nl = py.find('\n', at);
        if (line_start && eq != std::string::npos && eq < nl) {
            std::string v =
                py.substr(eq + 1, nl == std::string::npos ? std::string::npos : nl - eq - 1);
            std::size_t a = v.find_first_of("'\""), b = v.find_last_of("'\"");
            if (a != std::string::npos && b > a) return v.substr(a + 1, b - a - 1);
            return std::string(); // None
        }
        at += key.size();
    }
    return std::nullopt;
}

} // namespace gantry::image_facts
