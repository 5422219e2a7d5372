// docker's restart policies (engine/restart_policy.hpp).
#include "engine/restart_policy.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>

namespace gantry::engine {

RestartPolicy RestartPolicy::parse(const std::string& text, const std::string& what) {
    RestartPolicy p;
    auto colon = text.find(':');
    p.name = text.substr(0, colon);
    if (p.name.empty()) p.name = "no";
    if (p.name != "no" && p.name != "on-failure" && p.name != "always" &&
        p.name != "unless-stopped")
        throw Error(Errc::usage, "invalid " + what + " \"" + text + "\"",
                    "use no, on-failure[:MAX_RETRIES], always or unless-stopped");
    if (colon == std::string::npos) return p;
    if (p.name != "on-failure")
        throw Error(Errc::usage,
                    "invalid " + what + " \"" + text + "\": only on-failure takes a count",
                    "use on-failure:N, or " + p.name + " alone");
    auto n = text::to_u32(text.substr(colon + 1));
    if (!n || *n > 1000000)
        throw Error(Errc::usage,
                    "invalid " + what + " \"" + text + "\": the count must be a number from 0",
                    "use on-failure:N, e.g. on-failure:3");
    p.max_retries = static_cast<int>(*n);
    return p;
}

std::string RestartPolicy::str() const {
    return name == "on-failure" && max_retries > 0 ? name + ":" + std::to_string(max_retries)
                                                   : name;
}

bool RestartPolicy::restarts(int status, int restarts) const {
    if (name == "always" || name == "unless-stopped") return true;
    if (name != "on-failure" || status == 0) return false;
    return max_retries == 0 || restarts < max_retries;
}

long long restart_delay_ms(long long last_delay_ms, double ran_seconds) {
    if (ran_seconds >= 10 || last_delay_ms <= 0) return 100;
    return std::min<long long>(last_delay_ms * 2, 60 * 1000);
}

} // namespace gantry::engine
