// engine_api/create_fields: the typed readers of a ContainerConfig's members that
// create_body.cpp (Config, and the request as a whole) and host_config_body.cpp (HostConfig)
// share: docker's zero values, a field's refusal in gantry's words, and each JSON type read or
// refused with ApiError(400) naming the field. Internal to the two files (not a module API).
#pragma once

#include "engine/run_request.hpp"
#include "engine_api/create_body.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::engine_api::create_fields {

using json = nlohmann::json;

// docker's zero values: what its clients send for a field nobody set.
bool api_cb_default(const json& v);
[[noreturn]] void api_cb_refuse(const std::string& field, const json& v, const std::string& why);
[[noreturn]] void api_cb_type(const std::string& field, const char* want);
std::string api_cb_string(const json& v, const std::string& field);
bool api_cb_bool(const json& v, const std::string& field);
long long api_cb_int(const json& v, const std::string& field);
// a size or count docker refuses below 0 (gantry's -m, --cpus, --shm-size): 0 is none
long long api_cb_not_negative(const json& v, const std::string& field);
// docker's strslice: a list of strings, or one string (a one-word list); null: none
std::vector<std::string> api_cb_strings(const json& v, const std::string& field);
void api_cb_object(const json& v, const std::string& field);
// a list of objects; null: none (a loop over it makes no turn)
void api_cb_objects(const json& v, const std::string& field);

// HostConfig (host_config_body.cpp) applied to R; CONSOLE: its ConsoleSize, when asked.
void api_cb_host(const json& hc, engine::RunRequest& r, ConsoleSize* console);

} // namespace gantry::engine_api::create_fields
