// A container's labels (docker's run -l/--label, --label-file), kept in its state record for
// `ps --filter label=...`, `{{.Label "k"}}` and inspect's Config.Labels.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::engine {

// The image's labels (its config's Labels, IMAGE_LABELS), then each file's (--label-file: a
// KEY=VALUE a line, blank lines and lines starting with # skipped, as docker reads them), then
// each -l KEY=VALUE (KEY alone: an empty value), a later one replacing an earlier one of the
// same key, as docker merges them. Error(usage) naming an empty key, a file that is not text
// or over 1 MiB, or more than 64 KiB of labels; Error(not_found) naming a missing file.
std::map<std::string, std::string> container_labels(const nlohmann::json& image_labels,
                                                    const std::vector<std::string>& labels,
                                                    const std::vector<std::string>& files);

} // namespace gantry::engine
