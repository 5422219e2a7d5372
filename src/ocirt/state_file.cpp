#include "ocirt/state_file.hpp"

#include "util/error.hpp"

namespace gantry::ocirt {

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
        c.pid = j.at("pid").get<pid_t>();
        if (c.pid <= 0) throw damaged("its pid " + std::to_string(c.pid) + " is not a process");
        c.pid_start = j.at("pid_start").get<unsigned long long>();
        c.config = j.at("config");
        if (!c.config.is_object()) throw damaged("its config is not a JSON object");
        try { // what spec() returns later
            (void)oci::RuntimeSpec::from_json(c.config);
        } catch (const Error& e) {
            throw damaged("its config: " + e.message());
        }
        c.cgroup = j.value("cgroup", nlohmann::json());
        if (!c.cgroup.is_null() && !c.cgroup.is_object())
            throw damaged("its cgroup is not a JSON object");
        c.dir = dir;
        return c;
    } catch (const nlohmann::json::exception& e) {
        throw damaged(e.what());
    }
}

} // namespace gantry::ocirt
