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
// ApiError(400) for a body that is not an object, a field of the wrong type, a field gantry
// does not honour set to anything but its default, a NUL byte in any string (refuse_nul), a
// name that is not docker's [a-zA-Z0-9][a-zA-Z0-9_.-]+ (with an optional leading /), a bind
// source (Binds, Mounts) that is neither an absolute path nor a volume's name, or a number out
// of the range its setting takes (nothing is cut down to fit).
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

// The body's text parsed, or ApiError(400) in docker's words for malformed JSON, or for a NUL
// byte in any of its strings (refuse_nul).
nlohmann::json parse_body(const std::string& text);

// ApiError(400) naming the member ("Cmd[1]", "HostConfig.Binds[0]", a key of "Labels") when a
// string in V, or a key of one of its objects, has a NUL byte: what becomes an argument, an
// environment entry, a path or a name cannot hold one, and cut at it would be another value.
// docker's daemon takes such a body and fails when it starts the process (Go's exec: "invalid
// argument"); gantry refuses it at create. FIELD: V's own name ("" for a body).
void refuse_nul(const nlohmann::json& v, const std::string& field = "");

} // namespace gantry::engine_api
