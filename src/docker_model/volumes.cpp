#include "docker_model/volumes.hpp"

#include "util/error.hpp"

#include <map>

namespace gantry::docker_model {

nlohmann::json inspect_volume(const store::Volume& v) {
    nlohmann::json labels = nlohmann::json::object();
    for (auto& [k, val] : v.labels) labels[k] = val;
    return {{"Name", v.name},
            {"Driver", "local"},
            {"Mountpoint", v.mountpoint.string()},
            {"CreatedAt", v.created},
            {"Labels", labels},
            {"Scope", "local"},
            {"Options", nlohmann::json::object()}};
}

bool volume_matches(const store::Volume& v, const std::vector<std::string>& words, bool in_use) {
    std::map<std::string, std::vector<std::string>> by_key;
    for (auto& w : words) {
        auto eq = w.find('=');
        by_key[w.substr(0, eq)].push_back(eq == std::string::npos ? "" : w.substr(eq + 1));
    }
    for (auto& [key, values] : by_key) {
        bool any = false;
        for (auto& val : values) {
            if (key == "label") {
                auto eq = val.find('=');
                auto it = v.labels.find(val.substr(0, eq));
                any |= it != v.labels.end() &&
                       (eq == std::string::npos || it->second == val.substr(eq + 1));
            } else if (key == "name") {
                any |= v.name.find(val) != std::string::npos;
            } else if (key == "driver") {
                any |= val == "local";
            } else if (key == "dangling") {
                bool dangling = val == "1" || val == "true";
                if (!dangling && val != "0" && val != "false")
                    throw Error(Errc::usage, "invalid filter 'dangling=" + val + "'",
                                "give dangling=true or dangling=false");
                any |= dangling != in_use;
            } else {
                throw Error(Errc::usage, "invalid filter '" + key + "' for volumes",
                            "gantry's volumes filter by label, name, driver and dangling");
            }
        }
        if (!any) return false;
    }
    return true;
}

} // namespace gantry::docker_model
