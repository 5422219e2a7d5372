// docker's ContainerConfig as a RunRequest (engine_api/create_body.hpp): the request as a whole
// and its Config; HostConfig is host_config_body.cpp's, NetworkingConfig network_body.cpp's.
#include "engine_api/create_body.hpp"

#include "engine_api/create_fields.hpp"
#include "engine_api/network_body.hpp"
#include "engine_api/request.hpp"
#include "oci/image.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <climits>
#include <set>

namespace gantry::engine_api {

using json = nlohmann::json; // as api.hpp's (one unity translation unit)

namespace create_fields {

// docker's zero values: what its clients send for a field nobody set.
bool api_cb_default(const json& v) {
    if (v.is_null()) return true;
    if (v.is_boolean()) return !v.get<bool>();
    if (v.is_number()) return v == 0;
    if (v.is_string()) return v.get<std::string>().empty();
    for (const auto& e : v)
        if (!api_cb_default(e)) return false;
    return true; // an array or object whose members are all zero values
}

[[noreturn]] void api_cb_refuse(const std::string& field, const json& v, const std::string& why) {
    std::string shown = v.dump(-1, ' ', false, json::error_handler_t::replace);
    if (shown.size() > 200) shown = shown.substr(0, 200) + "...";
    throw ApiError(400, "gantry does not honour " + field + " (" + shown + "): " + why +
                            " (docs/engine-api.md lists the fields it honours)");
}

[[noreturn]] void api_cb_type(const std::string& field, const char* want) {
    throw ApiError(400, "invalid JSON for " + field + ": expected " + want);
}

std::string api_cb_string(const json& v, const std::string& field) {
    if (v.is_null()) return "";
    if (!v.is_string()) api_cb_type(field, "a string");
    return v.get<std::string>();
}

bool api_cb_bool(const json& v, const std::string& field) {
    if (v.is_null()) return false;
    if (!v.is_boolean()) api_cb_type(field, "a boolean");
    return v.get<bool>();
}

long long api_cb_int(const json& v, const std::string& field) {
    if (v.is_null()) return 0;
    if (!v.is_number_integer()) api_cb_type(field, "an integer");
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > LLONG_MAX)
        api_cb_type(field, "an integer up to 2^63-1");
    return v.get<long long>();
}

// a size or count docker refuses below 0 (gantry's -m, --cpus, --shm-size): 0 is none
long long api_cb_not_negative(const json& v, const std::string& field) {
    long long n = api_cb_int(v, field);
    if (n < 0)
        throw ApiError(400, "invalid " + field + ": " + std::to_string(n) +
                                " is below 0 (give 0 for no limit, or a positive value)");
    return n;
}

// docker's strslice: a list of strings, or one string (a one-word list); null: none
std::vector<std::string> api_cb_strings(const json& v, const std::string& field) {
    std::vector<std::string> out;
    if (v.is_null()) return out;
    if (v.is_string()) return {v.get<std::string>()};
    if (!v.is_array()) api_cb_type(field, "a list of strings");
    for (const auto& e : v) {
        if (!e.is_string()) api_cb_type(field, "a list of strings");
        out.push_back(e.get<std::string>());
    }
    return out;
}

void api_cb_object(const json& v, const std::string& field) {
    if (!v.is_null() && !v.is_object()) api_cb_type(field, "an object");
}

void api_cb_objects(const json& v, const std::string& field) {
    if (v.is_null()) return;
    if (!v.is_array()) api_cb_type(field, "a list of objects");
    for (const auto& o : v)
        if (!o.is_object()) api_cb_type(field, "a list of objects");
}
namespace {

// docker's container name rule, a leading / allowed (and dropped: "/web" is "web")
std::string api_cb_name(const std::string& name) {
    if (name.empty()) return name;
    std::string n = name.front() == '/' ? name.substr(1) : name;
    if (n.size() < 2 || n.find('\0') != std::string::npos || !records::valid_container_name(n))
        throw ApiError(400, "Invalid container name (" +
                                json(name).dump(-1, ' ', false, json::error_handler_t::replace) +
                                "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed: give ?name= "
                                "two or more of them, the first a letter or digit");
    return n;
}

// Config.Healthcheck as run's --health-* (docker's HealthConfig: Test, durations in ns, Retries)
void api_cb_healthcheck(const json& hc, engine::RunRequest& r) {
    api_cb_object(hc, "Healthcheck");
    if (hc.is_null()) return;
    for (const auto& [key, v] : hc.items()) {
        const std::string f = "Healthcheck." + key;
        if (key == "Test") {
            r.health_test = api_cb_strings(v, f);
            const auto& t = r.health_test;
            if (!t.empty() && !(t[0] == "NONE" && t.size() == 1) &&
                !(t[0] == "CMD" && t.size() >= 2) && !(t[0] == "CMD-SHELL" && t.size() == 2))
                throw ApiError(400, "invalid Healthcheck.Test: give [\"CMD\", PROGRAM, ...], "
                                    "[\"CMD-SHELL\", COMMAND] or [\"NONE\"]");
        } else if (key == "Interval" || key == "Timeout" || key == "StartPeriod" ||
                   key == "StartInterval") {
            auto ns = v.is_null() ? 0 : api_cb_int(v, f);
            if (ns < 0) throw ApiError(400, "invalid " + f + ": a duration cannot be negative");
            if (key == "StartInterval") { // docker 25's probes within the start period
                if (ns != 0) api_cb_refuse(f, v, "gantry checks at Interval throughout");
                continue;
            }
            if (ns > 0 && ns < 1000000)
                throw ApiError(400, "invalid " + f + ": at least 1ms (docker's minimum)");
            std::string d = ns == 0 ? "" : std::to_string(ns) + "ns";
            (key == "Interval"  ? r.health_interval
             : key == "Timeout" ? r.health_timeout
                                : r.health_start_period) = d;
        } else if (key == "Retries") {
            auto n = v.is_null() ? 0 : api_cb_int(v, f);
            if (n < 0 || n > INT_MAX) throw ApiError(400, "invalid " + f + ": from 0");
            r.health_retries = static_cast<int>(n);
        } else if (!api_cb_default(v)) {
            api_cb_refuse(f, v,
                          "gantry's health checks take Test, Interval, Timeout, "
                          "StartPeriod and Retries");
        }
    }
}

void api_cb_config(const json& body, engine::RunRequest& r, std::vector<std::string>& anonymous) {
    for (const auto& [key, v] : body.items()) {
        if (key == "HostConfig" || key == "NetworkingConfig") continue;
        const std::string f = key; // the field's name in messages
        if (key == "Image") {
            r.image = api_cb_string(v, f);
        } else if (key == "Cmd") {
            r.command = api_cb_strings(v, f);
        } else if (key == "Entrypoint") {
            if (v.is_null()) continue;
            auto words = api_cb_strings(v, f);
            // [] or [""]: the image's entrypoint cleared; more words: the first is the program,
            // the rest its first arguments (docker runs Entrypoint + Cmd)
            r.entrypoint = words.empty() ? "" : words[0];
            if (words.size() > 1)
                r.command.insert(r.command.begin(), words.begin() + 1, words.end());
        } else if (key == "Env") {
            for (auto& e : api_cb_strings(v, f)) {
                if (e.find('=') == std::string::npos || e.front() == '=')
                    throw ApiError(400, "invalid environment variable \"" + e +
                                            "\" in Env: give KEY=VALUE (the service does not "
                                            "pass its own environment's values)");
                r.env.push_back(e);
            }
        } else if (key == "WorkingDir") {
            r.workdir = api_cb_string(v, f);
        } else if (key == "User") {
            r.user = api_cb_string(v, f);
        } else if (key == "Hostname") {
            r.hostname = api_cb_string(v, f);
        } else if (key == "Labels") {
            api_cb_object(v, f);
            if (v.is_null()) continue;
            for (const auto& [lk, lv] : v.items())
                r.labels.push_back(lk + "=" + api_cb_string(lv, "Labels." + lk));
        } else if (key == "Tty") {
            r.tty = api_cb_bool(v, f);
        } else if (key == "OpenStdin") {
            r.interactive = api_cb_bool(v, f);
        } else if (key == "AttachStdin" || key == "AttachStdout" || key == "AttachStderr" ||
                   key == "StdinOnce") {
            // the attach endpoint's query names the streams; stdin closes when the attached
            // client closes its end (StdinOnce's behaviour either way)
            (void)api_cb_bool(v, f);
        } else if (key == "StopSignal") {
            r.stop_signal = api_cb_string(v, f);
        } else if (key == "StopTimeout") {
            if (v.is_null()) continue;
            auto t = api_cb_int(v, f);
            if (t < INT_MIN || t > INT_MAX)
                throw ApiError(400, "invalid StopTimeout: " + std::to_string(t) +
                                        " seconds is out of range (at most " +
                                        std::to_string(INT_MAX) + ")");
            r.stop_timeout = static_cast<int>(t);
        } else if (key == "NetworkDisabled") {
            if (api_cb_bool(v, f)) r.network = "none";
        } else if (key == "ArgsEscaped") {
            if (!api_cb_default(v)) api_cb_refuse(f, v, "it is a Windows-only setting");
        } else if (key == "ExposedPorts") {
            // docker's --expose: what PublishAllPorts publishes beside the image's EXPOSE
            api_cb_object(v, f);
            if (!v.is_null())
                for (const auto& [port, e] : v.items()) r.expose.push_back(port);
        } else if (key == "Healthcheck") {
            api_cb_healthcheck(v, r);
        } else if (key == "Volumes") {
            // {"/data": {}}: an anonymous volume each, unless a bind or mount of HostConfig
            // has the path (compose sends a named volume as Binds plus the path here)
            api_cb_object(v, f);
            if (v.is_null()) continue;
            for (auto it = v.begin(); it != v.end(); ++it) {
                const std::string& path = it.key();
                if (path.empty() || path.front() != '/')
                    throw ApiError(400, "invalid Volumes entry \"" + path +
                                            "\": give an absolute path in the container");
                anonymous.push_back(path);
            }
        } else if (!api_cb_default(v)) {
            api_cb_refuse(f, v, "gantry's containers have no such setting");
        }
    }
}

// Config.Volumes' paths that no bind, mount or tmpfs of the request has: -v DST's anonymous
// volumes (a trailing slash names the same path)
void api_cb_anonymous_volumes(const std::vector<std::string>& paths, engine::RunRequest& r) {
    auto trimmed = [](std::string p) {
        while (p.size() > 1 && p.back() == '/') p.pop_back();
        return p;
    };
    std::set<std::string> taken;
    for (auto& b : r.volumes) {
        auto first = b.find(':');
        if (first == std::string::npos) continue;
        auto second = b.find(':', first + 1);
        taken.insert(trimmed(b.substr(
            first + 1, second == std::string::npos ? std::string::npos : second - first - 1)));
    }
    for (auto& m : r.mounts)
        for (auto& field : text::split(m, ','))
            if (field.starts_with("target=")) taken.insert(trimmed(std::string(field.substr(7))));
    for (auto& t : r.tmpfs) taken.insert(trimmed(t.substr(0, t.find(':'))));
    for (auto& p : paths)
        if (taken.insert(trimmed(p)).second) r.volumes.push_back(p);
}

} // namespace

} // namespace create_fields

bool is_zero_value(const nlohmann::json& v) {
    return create_fields::api_cb_default(v);
}

nlohmann::json parse_body(const std::string& text) {
    if (text.empty()) return json::object();
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) throw ApiError(400, "invalid JSON in the request body");
    refuse_nul(j);
    return j;
}

void refuse_nul(const nlohmann::json& v, const std::string& field) {
    auto member = [&field](const std::string& key) {
        return field.empty() ? key : field + "." + key;
    };
    if (v.is_string()) {
        if (v.get_ref<const std::string&>().find('\0') != std::string::npos)
            throw ApiError(400, "invalid " + (field.empty() ? std::string("body") : field) +
                                    ": it has a NUL byte (\\u0000), which no argument, "
                                    "environment entry, path or name holds: remove it");
    } else if (v.is_array()) {
        for (std::size_t i = 0; i < v.size(); ++i)
            refuse_nul(v[i], field + "[" + std::to_string(i) + "]");
    } else if (v.is_object()) {
        for (const auto& [key, e] : v.items()) {
            if (key.find('\0') != std::string::npos)
                throw ApiError(400,
                               "invalid key " +
                                   json(key).dump(-1, ' ', false, json::error_handler_t::replace) +
                                   " in " + (field.empty() ? std::string("the body") : field) +
                                   ": it has a NUL byte (\\u0000): remove it");
            refuse_nul(e, member(key));
        }
    }
}

engine::RunRequest create_request(const nlohmann::json& body, const std::string& name,
                                  const std::string& platform, ConsoleSize* console) {
    if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
    refuse_nul(body);
    engine::RunRequest r;
    r.network = "bridge";    // docker's default for its clients (gantry run's is host)
    if (!platform.empty()) { // docker's `create --platform`: the run's --platform
        try {
            oci::Platform::parse(platform);
        } catch (const Error& e) {
            throw ApiError(400, "the platform query: " + e.message());
        }
        r.platform = platform;
    }
    r.name = create_fields::api_cb_name(name);
    std::vector<std::string> anonymous;
    create_fields::api_cb_config(body, r, anonymous);
    if (r.image.empty()) throw ApiError(400, "Config.Image is required: name the image to run");
    create_fields::api_cb_host(body.value("HostConfig", json()), r, console);
    create_fields::api_cb_anonymous_volumes(anonymous, r);
    apply_networking_config(body.value("NetworkingConfig", json()), r);
    return r;
}

} // namespace gantry::engine_api