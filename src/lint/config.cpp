#include "lint/config.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"

#include <yaml-cpp/yaml.h>

namespace gantry::lint {

namespace {

std::set<std::string> codes(const YAML::Node& n, const std::string& where,
                            const std::string& file) {
    std::set<std::string> out;
    if (n.IsNull()) return out;
    if (!n.IsSequence())
        throw Error(Errc::invalid, file + ": " + where + " must be a list of rule codes",
                    "write " + where + ": [GL004, GL016]");
    for (const auto& c : n) {
        if (!c.IsScalar())
            throw Error(Errc::invalid, file + ": " + where + " must be a list of rule codes");
        std::string s = c.as<std::string>();
        for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        out.insert(s);
    }
    return out;
}

} // namespace

Config load_config(const std::filesystem::path& path) {
    const std::string file = path.string();
    std::string text = fs::read_file(path, 1u << 20);
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw Error(Errc::invalid,
                    file + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg,
                    "fix the YAML syntax of the configuration file");
    }
    Config c;
    if (root.IsNull()) return c;
    if (!root.IsMap())
        throw Error(Errc::invalid,
                    file + ": expected a mapping (failure-threshold, ignored, override)");
    for (const auto& kv : root) {
        auto key = kv.first.as<std::string>();
        const auto& v = kv.second;
        if (key == "failure-threshold") {
            if (!v.IsScalar())
                throw Error(Errc::invalid, file + ": failure-threshold must be a string");
            c.threshold = v.as<std::string>();
            if (c.threshold != "none") try {
                    parse_level(c.threshold);
                } catch (const Error& e) {
                    throw Error(Errc::invalid, file + ": failure-threshold: " + e.message(),
                                "use error, warning, info or none");
                }
        } else if (key == "ignored") {
            c.ignored = codes(v, "ignored", file);
        } else if (key == "override") {
            if (!v.IsMap())
                throw Error(Errc::invalid,
                            file + ": override must map error/warning/info to lists");
            for (const auto& lv : v) {
                auto level = lv.first.as<std::string>();
                Level l;
                try {
                    l = parse_level(level);
                } catch (const Error&) {
                    throw Error(Errc::invalid,
                                file + ": override: unknown severity \"" + level + "\"",
                                "use error, warning or info");
                }
                for (auto& code : codes(lv.second, "override." + level, file)) c.severity[code] = l;
            }
        } else {
            throw Error(Errc::invalid, file + ": unknown key \"" + key + "\"",
                        "known keys: failure-threshold, ignored, override");
        }
    }
    return c;
}

} // namespace gantry::lint
