// Fuzzes a container's state.json as `gantry oci state/start/kill/delete/exec` read it back from
// --root (ocirt/state_file): the file outlives its writer and --root is any directory. What
// parses must name the container asked for, a positive PID (kill(2) of 0 or -1 signals a group
// or every process), a config that is a runtime spec (read into the record's spec at parse), and
// write back (as ocirt::save does) into a state that parses the same.
#include "fuzz_support.hpp"
#include "ocirt/state_file.hpp"

#include <nlohmann/json.hpp>

using namespace gantry;

GANTRY_FUZZ_TARGET(oci_state) {
    fuzz::expect_error([&] {
        auto c = ocirt::parse_state(fuzz::bytes(data, size), "ctr", "/run/gantry-oci/ctr");
        FUZZ_CHECK(c.id == "ctr" && c.pid > 0 && c.config.is_object());
        FUZZ_CHECK(c.cgroup.is_null() || c.cgroup.is_object());
        FUZZ_CHECK(c.monitor >= 0); // a lazy root's monitor: 0 (none) or a process
        FUZZ_CHECK(c.spec.to_json().is_object());
        nlohmann::json j = {{"id", c.id},         {"bundle", c.bundle},
                            {"rootfs", c.rootfs}, {"created", c.created},
                            {"pid", c.pid},       {"pid_start", c.pid_start},
                            {"config", c.config}};
        if (!c.cgroup.is_null()) j["cgroup"] = c.cgroup;
        if (c.monitor > 0) j["monitor"] = {{"pid", c.monitor}, {"start", c.monitor_started}};
        auto again = ocirt::parse_state(j.dump(), "ctr", c.container_dir);
        FUZZ_CHECK(again.pid == c.pid && again.pid_start == c.pid_start &&
                   again.bundle == c.bundle && again.config == c.config &&
                   again.monitor == c.monitor && again.monitor_started == c.monitor_started);
    });
    return 0;
}
