#include "compat/finding.hpp"

#include <algorithm>

namespace gantry::compat {

const char* to_string(Severity s) {
    switch (s) {
    case Severity::fail:
        return "fail";
    case Severity::warn:
        return "warn";
    case Severity::info:
        return "info";
    default:
        return "pass";
    }
}

Severity worst(const std::vector<Finding>& f) {
    Severity w = Severity::pass;
    for (auto& x : f) w = std::max(w, x.severity);
    return w;
}

} // namespace gantry::compat
