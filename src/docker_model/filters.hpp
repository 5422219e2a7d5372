// docker's --filter KEY=VALUE for ps and images, with docker's semantics: values of one key
// are alternatives (any may match), except label, whose values must all match (moby's
// MatchKVList); different keys must all match. An unknown key, or a value a key cannot take,
// is Error(usage) naming it.
#pragma once

#include "records/state.hpp"

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gantry::docker_model {

// KEY=VALUE words grouped by key; COMMAND names the command in errors, ACCEPTED its keys.
using FilterArgs = std::map<std::string, std::vector<std::string>>;
FilterArgs parse_filters(const std::vector<std::string>& words, const std::string& command,
                         const std::vector<std::string>& accepted);

// LABELS matches every label filter (KEY or KEY=VALUE).
bool labels_match(const FilterArgs& f, const std::map<std::string, std::string>& labels);

// ps's filters: id, name (regular expressions, as docker's), label, status, exited, ancestor,
// before, since.
class ContainerFilter {
  public:
    // ALL: every container (for before/since); IMAGE_DIGEST: the manifest digest of a stored
    // image an ancestor value names (nothing when it names none).
    ContainerFilter(const std::vector<std::string>& words,
                    const std::vector<records::ContainerState>& all,
                    std::function<std::optional<std::string>(const std::string&)> image_digest);
    // the same over StateDir::snapshots()
    ContainerFilter(const std::vector<std::string>& words,
                    const std::vector<std::shared_ptr<const records::ContainerState>>& all,
                    std::function<std::optional<std::string>(const std::string&)> image_digest);
    bool matches(const records::ContainerState& s, bool running) const;
    // a status= filter: a listing without -a shows stopped containers then too (docker's)
    bool wants_stopped() const;

  private:
    ContainerFilter(const std::vector<std::string>& words,
                    const std::vector<const records::ContainerState*>& all,
                    std::function<std::optional<std::string>(const std::string&)> image_digest);

    FilterArgs f_;
    std::optional<std::string> before_, since_; // created times
    std::vector<std::string> ancestor_digests_;
};

// container prune's filters (docker's): until=DURATION (created more than DURATION before
// NOW, seconds since the epoch; durations only: "24h", "90m"), label=KEY[=VALUE] (every one
// must match) and label!=KEY[=VALUE] (none may).
class PruneFilter {
  public:
    PruneFilter(const std::vector<std::string>& words, std::int64_t now);
    bool matches(const records::ContainerState& s) const;

  private:
    FilterArgs f_;
    std::optional<std::string> created_before_; // RFC 3339, compared as text (one format)
};

// One image as the images filters see it.
struct ImageFacts {
    std::string reference; // "busybox:latest" ("" for a digest-only name)
    std::string id;        // sha256:... (the config digest)
    std::string digest;    // the manifest digest
    std::string created;   // RFC 3339
    std::map<std::string, std::string> labels;
};

// images' filters: dangling, label, before, since, reference.
class ImageFilter {
  public:
    // ALL: the images, for before/since (a value names one by reference or ID prefix).
    ImageFilter(const std::vector<std::string>& words, const std::vector<ImageFacts>& all);
    bool matches(const ImageFacts& i) const;

  private:
    FilterArgs f_;
    std::optional<std::string> before_, since_;
};

} // namespace gantry::docker_model
