#include "lint/config.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"
#include "util/yaml.hpp"

namespace gantry::lint {

namespace {

std::set<std::string> codes(const yaml::Node& n, const std::string& where,
                            const std::string& file) {
    std::set<std::string> out;
    if (n.is_null()) return out;
    if (!n.is_seq())
        throw Error(Errc::invalid, file + ": " + where + " must be a list of rule codes",
                    "write " + where + ": [GL004, GL016]");
    for (const auto& c : n.items) {
        if (!c.is_scalar())
            throw Error(Errc::invalid, file + ": " + where + " must be a list of rule codes");
        out.insert(text::upper(c.value));
    }
    return out;
}

} // namespace

Config load_config(const std::filesystem::path& path) {
    const std::string file = path.string();
    std::string text = fs::read_file(path, 1u << 20);
    yaml::Node root;
    try {
        root = yaml::parse(text);
    } catch (const yaml::SyntaxError& e) {
        throw Error(Errc::invalid, file + ": line " + std::to_string(e.line) + ": " + e.message,
                    "fix the YAML syntax of the configuration file");
    } catch (const Error& e) {
        throw Error(e.code(), file + ": " + e.message(), e.hint());
    }
    Config c;
    if (root.is_null()) return c;
    if (!root.is_map())
        throw Error(Errc::invalid,
                    file + ": expected a mapping (failure-threshold, ignored, override)");
    for (const auto& [k, v] : root.entries) {
        const std::string& key = k.value;
        if (key == "failure-threshold") {
            if (!v.is_scalar())
                throw Error(Errc::invalid, file + ": failure-threshold must be a string");
            c.threshold = v.value;
            if (c.threshold != "none") try {
                    parse_level(c.threshold);
                } catch (const Error& e) {
                    throw Error(Errc::invalid, file + ": failure-threshold: " + e.message(),
                                "use error, warning, info or none");
                }
        } else if (key == "ignored") {
            c.ignored = codes(v, "ignored", file);
        } else if (key == "override") {
            if (!v.is_map())
                throw Error(Errc::invalid,
                            file + ": override must map error/warning/info to lists");
            for (const auto& [lk, lv] : v.entries) {
                const std::string& level = lk.value;
                Severity l;
                try {
                    l = parse_level(level);
                } catch (const Error&) {
                    throw Error(Errc::invalid,
                                file + ": override: unknown severity \"" + level + "\"",
                                "use error, warning or info");
                }
                for (auto& code : codes(lv, "override." + level, file)) c.severity[code] = l;
            }
        } else {
            throw Error(Errc::invalid, file + ": unknown key \"" + key + "\"",
                        "known keys: failure-threshold, ignored, override");
        }
    }
    return c;
}

} // namespace gantry::lint
