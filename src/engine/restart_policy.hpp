// docker's restart policies, kept by the monitor of a detached container (engine/launch.cpp):
//   no               never restarted (the default)
//   on-failure[:N]   restarted when it exits with a status other than 0, at most N times
//   always           restarted whenever it exits
//   unless-stopped   as always (they differ in docker only when its daemon starts again)
// A container that `gantry stop` or `gantry kill` ended is not restarted (docker's "manually
// stopped") until it is started again; nor one being removed. Between two starts the monitor
// waits as docker's restart manager does: 100 ms, doubled after each restart, at most a
// minute, and back to 100 ms after a run of 10 s or more. The restart itself is a `gantry start`
// of the container (the one path every start takes), begun by the monitor as it ends.
#pragma once

#include <string>

namespace gantry::engine {

struct RestartPolicy {
    std::string name = "no"; // no, on-failure, always, unless-stopped
    int max_retries = 0;     // on-failure's N (0: no limit)

    // "no", "on-failure", "on-failure:N", "always", "unless-stopped"; anything else, a count on
    // another policy or a negative one: Error(usage) naming WHAT.
    static RestartPolicy parse(const std::string& text, const std::string& what = "--restart");
    std::string str() const; // as parse() takes it
    bool any() const { return name != "no"; }
    // Whether a container that exited with STATUS after RESTARTS restarts is started again.
    bool restarts(int status, int restarts) const;
};

// Milliseconds to wait before the next start: 100 ms doubled per earlier restart, capped at
// 60 s; 100 ms when the run that ended lasted RAN_SECONDS >= 10. DELAY_MS is the last delay.
long long restart_delay_ms(long long last_delay_ms, double ran_seconds);

} // namespace gantry::engine
