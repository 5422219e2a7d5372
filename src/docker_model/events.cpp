#include "docker_model/events.hpp"

#include "util/error.hpp"
#include "util/printable.hpp"
#include "util/units.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace gantry::docker_model {

using json = nlohmann::json;

namespace {

// built on first use: no namespace-scope object is constructed at every gantry start
const std::vector<std::string>& event_filter_keys() {
    static const std::vector<std::string> keys = {
        "container", "event",  "image",  "label", "type",    "scope",  "network",
        "volume",    "daemon", "plugin", "node",  "service", "secret", "config"};
    return keys;
}

std::string attribute(const json& m, const std::string& key) {
    auto a = m.value(json::json_pointer("/Actor/Attributes"), json::object());
    auto it = a.find(key);
    return it != a.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A reference without its tag ("busybox:1" -> "busybox"; a registry's port is not a tag).
std::string strip_tag(const std::string& ref) {
    if (ref.find('@') != std::string::npos) return ref;
    auto colon = ref.rfind(':');
    auto slash = ref.rfind('/');
    if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return ref;
    return ref.substr(0, colon);
}

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// "SSSS[.fffffffff]" as nanoseconds; nothing for another shape.
std::optional<std::int64_t> unix_time(const std::string& v) {
    auto dot = v.find('.');
    std::string sec = v.substr(0, dot), frac = dot == std::string::npos ? "" : v.substr(dot + 1);
    if (!all_digits(sec) || sec.size() > 12 || (dot != std::string::npos && !all_digits(frac)))
        return std::nullopt;
    frac = frac.substr(0, 9);
    frac.append(9 - frac.size(), '0');
    return std::stoll(sec) * 1'000'000'000 + std::stoll(frac);
}

std::int64_t local_offset_seconds() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::localtime_r(&now, &tm);
    return tm.tm_gmtoff;
}

// docker's date and time layouts, in nanoseconds; nothing when V is not one.
std::optional<std::int64_t> calendar_time(const std::string& v) {
    bool in_location =
        !(v.find_first_of("zZ+") != std::string::npos || std::count(v.begin(), v.end(), '-') == 3);
    std::tm tm{};
    int consumed = 0;
    if (std::sscanf(v.c_str(), "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &consumed) !=
            3 ||
        consumed != 10)
        return std::nullopt;
    std::size_t at = 10;
    std::int64_t nanos = 0;
    if (at < v.size() && v[at] == 'T') {
        int fields[3] = {0, 0, 0};
        ++at;
        for (int i = 0; i < 3; ++i) {
            if (i > 0) {
                if (at >= v.size() || v[at] != ':') break;
                ++at;
            }
            if (at + 2 > v.size() || !all_digits(std::string_view(v).substr(at, 2)))
                return std::nullopt;
            fields[i] = std::stoi(v.substr(at, 2));
            at += 2;
        }
        tm.tm_hour = fields[0], tm.tm_min = fields[1], tm.tm_sec = fields[2];
        if (at < v.size() && v[at] == '.') {
            std::size_t end = at + 1;
            while (end < v.size() && std::isdigit(static_cast<unsigned char>(v[end]))) ++end;
            std::string frac = v.substr(at + 1, std::min<std::size_t>(end - at - 1, 9));
            if (frac.empty()) return std::nullopt;
            frac.append(9 - frac.size(), '0');
            nanos = std::stoll(frac);
            at = end;
        }
    }
    std::int64_t offset = 0;
    std::string zone = v.substr(at);
    if (zone == "Z" || zone == "z") {
        offset = 0;
    } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':' &&
               all_digits(zone.substr(1, 2)) && all_digits(zone.substr(4, 2))) {
        offset = (std::stoi(zone.substr(1, 2)) * 3600 + std::stoi(zone.substr(4, 2)) * 60) *
                 (zone[0] == '-' ? -1 : 1);
    } else if (zone.empty() && in_location) {
        offset = local_offset_seconds();
    } else {
        return std::nullopt;
    }
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return std::nullopt;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    std::int64_t secs = std::int64_t(::timegm(&tm)) - offset;
    return secs * 1'000'000'000 + nanos;
}

} // namespace

EventFilter::EventFilter(const std::vector<std::string>& words)
    : f_(parse_filters(words, "events", event_filter_keys())) {}

bool EventFilter::matches(const json& m) const {
    const std::string id = m.value(json::json_pointer("/Actor/ID"), std::string());
    const std::string name = attribute(m, "name"), image = attribute(m, "image");
    const std::string type = m.value("Type", std::string()), action = m.value("Action", "");
    bool fuzzy_events = false;
    if (auto ev = f_.find("event"); ev != f_.end())
        for (const auto& v : ev->second)
            fuzzy_events |= v == "health_status" || v == "exec_create" || v == "exec_start";
    for (const auto& entry : f_) { // no structured binding: clang 14 cannot capture one
        const std::string& key = entry.first;
        const std::vector<std::string>& values = entry.second;
        auto any = [&values](auto pred) { return std::any_of(values.begin(), values.end(), pred); };
        bool ok = true;
        if (key == "container" || key == "network") // docker's fuzzyMatchName, any Type
            ok = any([&](const std::string& v) {
                return v == id || v == name || id.rfind(v, 0) == 0 || name.rfind(v, 0) == 0;
            });
        else if (key == "event")
            // docker's matchEvent: with health_status, exec_create or exec_start among the
            // values, a value also matches the actions it begins ("exec_start: sh -c ls")
            ok = any([&](const std::string& v) {
                return v == action || (fuzzy_events && action.rfind(v, 0) == 0);
            });
        else if (key == "image")
            ok = any([&](const std::string& v) {
                return v == image || v == id || v == strip_tag(image);
            });
        else if (key == "label")
            ok = labels_match(f_, m.value(json::json_pointer("/Actor/Attributes"), json::object())
                                      .get<std::map<std::string, std::string>>());
        else if (key == "type")
            ok = any([&](const std::string& v) { return v == type; });
        else if (key == "scope")
            ok = any([&](const std::string& v) { return v == m.value("scope", ""); });
        else
            ok = false; // a kind of event gantry does not record
        if (!ok) return false;
    }
    return true;
}

std::int64_t event_time(const std::string& value, std::int64_t now_nano, const std::string& flag) {
    if (value != "0") try {
            return now_nano - units::parse_duration(value);
        } catch (const Error&) {
        }
    if (auto t = calendar_time(value)) return *t;
    if (value.find('-') == std::string::npos)
        if (auto t = unix_time(value)) return *t;
    throw Error(Errc::usage, flag + " " + value + ": failed to parse value as time or duration",
                "give a duration before now (10m, 1h30m), Unix seconds (1700000000) or an RFC "
                "3339 time (2024-05-01T12:00:00Z)");
}

std::string event_line(const json& m) {
    std::int64_t nano = m.value("timeNano", std::int64_t(0));
    std::string out;
    if (nano != 0) {
        std::time_t secs = std::time_t(nano / 1'000'000'000);
        std::tm tm{};
        ::localtime_r(&secs, &tm);
        char buf[64];
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
        std::string zone = "Z";
        if (tm.tm_gmtoff != 0) {
            int off = int(std::labs(tm.tm_gmtoff) / 60) % (100 * 60);
            char z[16];
            std::snprintf(z, sizeof z, "%c%02d:%02d", tm.tm_gmtoff < 0 ? '-' : '+', off / 60,
                          off % 60);
            zone = z;
        }
        char line[128];
        std::snprintf(line, sizeof line, "%s.%09lld", buf,
                      static_cast<long long>(nano % 1'000'000'000));
        out = std::string(line) + zone + " ";
    }
    // every value through the one rule (util/printable.hpp): a label can end no line
    out += text::printable(m.value("Type", "")) + " " + text::printable(m.value("Action", "")) +
           " " + text::printable(m.value(json::json_pointer("/Actor/ID"), std::string()));
    auto attrs = m.value(json::json_pointer("/Actor/Attributes"), json::object());
    if (!attrs.empty()) {
        std::string list;
        for (auto it = attrs.begin(); it != attrs.end(); ++it) // json objects keep keys sorted
            list += (list.empty() ? "" : ", ") + text::printable(it.key()) + "=" +
                    text::printable(it->is_string() ? it->get<std::string>() : it->dump());
        out += " (" + list + ")";
    }
    return out + "\n";
}

const gotemplate::Listing& events_listing() {
    static const gotemplate::Listing listing = [] {
        gotemplate::Listing l;
        l.data.what = "an event";
        l.data.maps = {".Actor.Attributes"}; // a Go map[string]string in docker's Message
        // docker's Go names of the fields its JSON spells in lower case
        for (auto [method, key] : {std::pair{"Status", "status"},
                                   {"ID", "id"},
                                   {"From", "from"},
                                   {"Scope", "scope"},
                                   {"Time", "time"},
                                   {"TimeNano", "timeNano"}})
            l.data.methods[method] = [k = std::string(key)](const json& m,
                                                            const std::vector<json>& args) {
                if (!args.empty()) throw Error(Errc::usage, "." + k + " takes no arguments");
                return m.value(k, json());
            };
        return l;
    }();
    return listing;
}

gotemplate::Format events_format(const std::string& text) {
    auto f = gotemplate::Format::parse(text, events_listing());
    records::ContainerEvent sample{"start", std::string(64, '0'), "name", "image", {}, 1};
    f.render({records::event_message(sample)});
    return f;
}

void stream_events(records::EventReader& reader, const EventFilter& filter, std::int64_t since,
                   std::optional<std::int64_t> until,
                   const std::function<void(const json&)>& emit) {
    for (;;) {
        for (const auto& m : reader.next()) {
            std::int64_t t = m.value("timeNano", std::int64_t(0));
            if (t >= since && (!until || t <= *until) && filter.matches(m)) emit(m);
        }
        if (!until) {
            reader.wait(-1);
            continue;
        }
        // what was appended up to UNTIL has been read once it has passed
        std::int64_t left = *until - records::realtime_nanos();
        if (left < 0) return;
        reader.wait(int(std::min<std::int64_t>(left / 1'000'000 + 1, 1 << 30)));
    }
}

} // namespace gantry::docker_model
