#include "network/mode.hpp"

#include "util/error.hpp"

namespace gantry::network {

Mode parse_mode(const std::string& text, const std::string& what) {
    if (text == "host") return Mode::host;
    if (text == "none") return Mode::none;
    if (text == "bridge" || text == "default") return Mode::bridge;
    if (text.starts_with("container:")) {
        if (text.size() == 10)
            throw Error(Errc::usage, what + " " + text + ": no container named",
                        "use container:NAME or container:ID of a running container");
        return Mode::container;
    }
    if (text.empty()) throw Error(Errc::usage, what + " is empty", "use host, bridge or none");
    return Mode::user; // a user-defined network's name or id, looked up at the start
}

std::string mode_name(Mode m) {
    switch (m) {
    case Mode::host:
        return "host";
    case Mode::none:
        return "none";
    case Mode::bridge:
        return "bridge";
    case Mode::container:
        return "container";
    case Mode::user:
        return "user";
    }
    return "host";
}

} // namespace gantry::network
