#include "compat/finding.hpp"

#include "util/spelling.hpp"

#include <algorithm>

namespace gantry::compat {

const char* to_string(Severity s) {
    static constexpr text::Spelling<Severity> severities[] = {
        {Severity::fail, "fail"}, {Severity::warn, "warn"}, {Severity::info, "info"}};
    return text::word_for(severities, s, "pass");
}

Severity worst(const std::vector<Finding>& f) {
    Severity w = Severity::pass;
    for (auto& x : f) w = std::max(w, x.severity);
    return w;
}

} // namespace gantry::compat
