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

const char* const kKeys[9] = {"image_stores",          "kernel_cache",      "kernel_cache_max_size",
                              "kernel_cache_registry", "licence_check",     "network",
                              "pull_policy",           "registry_transfer", "store"};

namespace {
// "a, b and c"
std::string key_list() {
    std::string out;
    const std::size_t n = std::size(kKeys);
    for (std::size_t i = 0; i < n; ++i)
        out += std::string(i == 0 ? "" : i + 1 == n ? " and " : ", ") + kKeys[i];
    return out;
}
} // namespace

void check_keys(const yaml::Node& doc, const std::string& file) {
    if (doc.kind == yaml::Node::Kind::null) return;
    if (doc.kind != yaml::Node::Kind::map)
        throw Error(Errc::invalid, "gantry's config file " + file + " is not a mapping",
                    "write keys and values, e.g. `pull_policy: never` (see "
                    "/usr/share/doc/gantry/examples/config.yaml)");
    for (auto& [key, value] : doc.entries) {
        bool known = false;
        for (const char* k : kKeys) known = known || key.value == k;
        if (!known)
            throw Error(Errc::invalid,
                        file + " line " + std::to_string(key.line) + ": unknown key \"" +
                            key.value + "\"",
                        "gantry's config file has the keys " + key_list() +
                            " (see /usr/share/doc/gantry/examples/config.yaml)");
    }
}

yaml::Node load(std::string& file, const std::string& example) {
    file = path();
    if (file.empty()) return {};
    yaml::Node doc = parse(read(file), file, example);
    check_keys(doc, file);
    return doc;
}

} // namespace gantry::config_file
