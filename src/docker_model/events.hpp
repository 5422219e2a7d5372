// docker's `events` over gantry's journal (records/events.hpp): its --filter keys and their
// matching, --since/--until as docker reads them, the line it prints without --format, and what
// --format executes over (docker's events.Message: .Status .ID .From .Type .Action .Actor
// .Scope .Time .TimeNano).
#pragma once

#include "docker_model/filters.hpp"
#include "gotemplate/docker_format.hpp"
#include "records/events.hpp"

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gantry::docker_model {

// events' filters: container and network (an ID or name, or a prefix of either: docker's
// fuzzy match of the event's Actor, whatever its Type), event, image, label, type, scope;
// docker's other kinds (volume, daemon, plugin, node, service, secret, config) are accepted and
// match nothing, since gantry records container and network events only.
class EventFilter {
  public:
    explicit EventFilter(const std::vector<std::string>& words);
    bool matches(const nlohmann::json& message) const;

  private:
    FilterArgs f_;
};

// A --since/--until value as docker's CLI reads it (GetTimestamp), in nanoseconds since the
// epoch: a Go duration before NOW_NANO ("10m", "1h30m"), Unix seconds with an optional
// fraction ("1700000000.5"), or an RFC 3339 date or time ("2024-05-01", "2024-05-01T12:00",
// "2024-05-01T12:00:00.5Z", "...+02:00"; local time without a zone). Error(usage) naming FLAG.
std::int64_t event_time(const std::string& value, std::int64_t now_nano, const std::string& flag);

// The line docker prints for MESSAGE without --format: "TIME TYPE ACTION ID (k=v, ...)" in local
// time with nanoseconds, the attributes sorted by key.
std::string event_line(const nlohmann::json& message);

// What events' --format executes over: the message, with docker's Go field names as methods.
const gotemplate::Listing& events_listing();
// events' --format TEXT, tried on an event before any is read: a field no event has is
// Error(usage) at once, not at the first event (which may come much later).
gotemplate::Format events_format(const std::string& text);

// docker's events stream: the events of READER from SINCE on (nanoseconds since the epoch) that
// FILTER matches, each given to EMIT as it is appended, until UNTIL passes (without UNTIL: until
// the process is ended, as `docker events` runs). An event stamped after UNTIL is not emitted.
void stream_events(records::EventReader& reader, const EventFilter& filter, std::int64_t since,
                   std::optional<std::int64_t> until,
                   const std::function<void(const nlohmann::json&)>& emit);

} // namespace gantry::docker_model
