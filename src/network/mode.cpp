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
    throw Error(Errc::unsupported, what + " " + text + ": user-defined networks are not served yet",
                "use bridge (a network namespace of the container's own, ports published with "
                "-p), host or none");
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
    }
    return "host";
}

} // namespace gantry::network
