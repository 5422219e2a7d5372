#include "kernel_cache/key.hpp"

#include "util/error.hpp"
#include "util/hash.hpp"

namespace gantry::kernel_cache {

nlohmann::json KeyFacts::to_json() const {
    return nlohmann::json{{"format", kKeyFormat},
                          {"image", image},
                          {"vendor", vendor},
                          {"host", host},
                          {"user", user}};
}

KeyFacts KeyFacts::from_json(const nlohmann::json& j) {
    auto field = [&](const char* name) -> const nlohmann::json& {
        if (!j.is_object() || !j.contains(name))
            throw Error(Errc::invalid,
                        "a kernel cache's facts.json lacks \"" + std::string(name) + "\"",
                        "remove that cache: gantry kernel-cache rm KEY");
        return j.at(name);
    };
    KeyFacts f;
    try {
        f.image = field("image").get<std::string>();
        f.vendor = field("vendor").get<std::string>();
        f.host = field("host").get<std::vector<std::string>>();
        f.user = field("user").get<unsigned>();
    } catch (const nlohmann::json::exception& e) {
        throw Error(Errc::invalid,
                    std::string("a kernel cache's facts.json is malformed: ") + e.what(),
                    "remove that cache: gantry kernel-cache rm KEY");
    }
    return f;
}

std::string key_of(const KeyFacts& facts) {
    // nlohmann's dump sorts an object's keys: one text per set of facts
    return Sha256::hex_of(facts.to_json().dump()).substr(0, 32);
}

} // namespace gantry::kernel_cache
