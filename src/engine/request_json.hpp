// A RunRequest kept in a container's directory (request.json), so that `gantry start` runs the
// container again as `run -d` ran it, from any directory and whenever: what the request takes
// from where and when it was made is fixed first (persistable): relative paths made absolute,
// `-e K` given the caller's value, --env-file and --label-file read into -e and -l, the pull done
// (never pulled again), --cidfile written once.
#pragma once

#include "engine/run_request.hpp"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace gantry::engine {

nlohmann::json request_to_json(const RunRequest& r);
// Error(invalid) naming FILE for a field of the wrong type or a key gantry does not know.
RunRequest request_from_json(const nlohmann::json& j, const std::string& file);

// R made independent of the caller's directory and environment (above). LABELS: the
// container's labels as prepare merged them (they replace -l and --label-file). Error(usage)
// naming the flag for what cannot be kept: a relative --mount source.
RunRequest persistable(RunRequest r, const std::filesystem::path& cwd,
                       const std::map<std::string, std::string>& labels);

// DIR/request.json: written durably; read with the file named in errors.
void write_request(const std::filesystem::path& dir, const RunRequest& r);
RunRequest read_request(const std::filesystem::path& dir);

} // namespace gantry::engine
