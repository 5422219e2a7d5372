#include "ocirt/state_file.hpp"

#include "util/error.hpp"

#include <cstdint>

namespace gantry::ocirt {

namespace {
constexpr std::uint64_t kMaxPid = 4194304; // PID_MAX_LIMIT on 64-bit Linux
} // namespace

Container parse_state(std::string_view text, const std::string& id,
                      const std::filesystem::path& dir) {
    auto damaged = [&](const std::string& why) {
        return Error(Errc::invalid, "the state of container " + id + " is damaged: " + why,
                     "remove " + dir.string());
    };
    try {
        auto j = nlohmann::json::parse(text);
        if (!j.is_object()) throw damaged("not a JSON object");
        Container c;
        c.id = j.at("id").get<std::string>();
        if (c.id != id) throw damaged("it names container \"" + c.id + "\"");
        c.bundle = j.at("bundle").get<std::string>();
        c.rootfs = j.at("rootfs").get<std::string>();
        c.created = j.at("created").get<std::string>();
        // integers only: nlohmann's get<int>() of 1e120 (or of a string's worth of digits as a
        // double) is a float-to-integer conversion out of range, undefined behaviour
        const auto& pid = j.at("pid");
        if (!pid.is_number_integer()) throw damaged("its pid " + pid.dump() + " is not a number");
        if (pid.is_number_unsigned() ? pid.get<std::uint64_t>() > kMaxPid
                                     : pid.get<std::int64_t>() < 1)
            throw damaged("its pid " + pid.dump() + " is not a process");
        c.pid = static_cast<pid_t>(pid.get<std::int64_t>());
        if (c.pid <= 0) throw damaged("its pid " + pid.dump() + " is not a process");
        const auto& start = j.at("pid_start");
        if (!start.is_number_unsigned())
            throw damaged("its pid_start " + start.dump() + " is not a start time");
        c.pid_start = start.get<std::uint64_t>();
        c.config = j.at("config");
        if (!c.config.is_object()) throw damaged("its config is not a JSON object");
        try {
            c.spec = oci::RuntimeSpec::from_json(c.config);
        } catch (const Error& e) {
            throw damaged("its config: " + e.message());
        }
        c.cgroup = j.value("cgroup", nlohmann::json());
        if (!c.cgroup.is_null() && !c.cgroup.is_object())
            throw damaged("its cgroup is not a JSON object");
        // a lazy root's monitor, a kernel cache's: waited for, never signalled
        auto monitor = [&](const char* name, pid_t& into, unsigned long long& started) {
            if (!j.contains(name)) return;
            const auto& m = j.at(name);
            const auto& mp = m.at("pid");
            const auto& ms = m.at("start");
            if (!mp.is_number_unsigned() || mp.get<std::uint64_t>() > kMaxPid ||
                mp.get<std::uint64_t>() == 0 || !ms.is_number_unsigned())
                throw damaged(std::string("its ") + name + " " + m.dump() + " is not a process");
            into = static_cast<pid_t>(mp.get<std::uint64_t>());
            started = ms.get<std::uint64_t>();
        };
        monitor("monitor", c.monitor, c.monitor_started);
        monitor("kernel_cache_monitor", c.kernel_cache_monitor, c.kernel_cache_monitor_started);
        c.container_dir = dir.string();
        return c;
    } catch (const nlohmann::json::exception& e) {
        throw damaged(e.what());
    }
}

} // namespace gantry::ocirt
