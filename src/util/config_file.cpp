#include "util/config_file.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstdlib>
#include <unistd.h>

namespace gantry::config_file {

std::string path() {
    if (const char* p = std::getenv("GANTRY_CONFIG"); p && *p) return p;
    std::string user;
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x)
        user = std::string(x) + "/gantry/config.yaml";
    else if (const char* h = std::getenv("HOME"); h && *h)
        user = std::string(h) + "/.config/gantry/config.yaml";
    if (!user.empty() && ::access(user.c_str(), F_OK) == 0) return user;
    if (::access("/etc/gantry/config.yaml", F_OK) == 0) return "/etc/gantry/config.yaml";
    return "";
}

std::string read(const std::string& file) {
    try {
        return fs::read_file(file, 1u << 20);
    } catch (const Error& e) {
        throw Error(Errc::io, "cannot read gantry's config file " + file + ": " + e.message(),
                    "fix or remove it (GANTRY_CONFIG names another)");
    }
}

yaml::Node parse(const std::string& text, const std::string& file, const std::string& example) {
    try {
        return yaml::parse(text);
    } catch (const yaml::SyntaxError& e) {
        throw Error(Errc::invalid,
                    "gantry's config file " + file + " line " + std::to_string(e.line) + ": " +
                        e.message,
                    example);
    } catch (const Error& e) {
        throw Error(Errc::invalid, "gantry's config file " + file + ": " + e.message(), example);
    }
}

} // namespace gantry::config_file
