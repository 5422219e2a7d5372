// POST /containers/create's body (docker's ContainerConfig, with its HostConfig and
// NetworkingConfig) as the RunRequest `gantry create` would make of the same flags: every field
// gantry honours is translated; a field it does not honour is accepted only at docker's default
// (null, false, 0, "", empty, or the documented default such as RestartPolicy "no"), and with
// any other value the request is refused with ApiError(400) naming the field. Nothing is
// silently dropped. Apart from any socket, so unit tests and the fuzzer call it.
#pragma once

#include "engine/run_request.hpp"

#include <nlohmann/json.hpp>
#include <string>

namespace gantry::engine_api {

// BODY: the parsed JSON body; NAME: the ?name= query value ("" none); PLATFORM: ?platform=.
// ApiError(400) for a body that is not an object, a field of the wrong type, or a field gantry
// does not honour set to anything but its default.
// CONSOLE: HostConfig.ConsoleSize, [rows, columns], the terminal's first size (docker 23+'s
// clients send it for -t; 0 0: none), which the attached start applies.
struct ConsoleSize {
    unsigned rows = 0, cols = 0;
};
engine::RunRequest create_request(const nlohmann::json& body, const std::string& name,
                                  const std::string& platform = "", ConsoleSize* console = nullptr);

// docker's zero value for a field nobody set: null, false, 0, "", or an array or object whose
// members all are.
bool is_zero_value(const nlohmann::json& v);

// The body's text parsed, or ApiError(400) in docker's words for malformed JSON.
nlohmann::json parse_body(const std::string& text);

} // namespace gantry::engine_api
