// docker's events over gantry's journal: the filters (moby's daemon/events/filter.go: container
// by ID, name or a prefix of either; event, image with or without its tag, label, type, scope),
// --since/--until as docker's CLI reads them (api/types/time GetTimestamp), the line without
// --format, and the template fields.
#include "docker_model/events.hpp"
#include "engine/exec.hpp"
#include "util/error.hpp"

#include <cstdlib>
#include <gtest/gtest.h>

namespace docker_events_test {

using gantry::Errc;
using gantry::Error;
using gantry::records::ContainerEvent;
using gantry::records::event_message;
using namespace gantry::docker_model;
using json = nlohmann::json;

const std::string kId(64, 'a');

json message(const std::string& action, std::map<std::string, std::string> attrs = {}) {
    ContainerEvent e{
        action, kId, "web", "busybox:1.36", std::move(attrs), 1'700'000'000'123'456'789};
    return event_message(e);
}

bool match(const std::vector<std::string>& words, const json& m) {
    return EventFilter(words).matches(m);
}

TEST(DockerEvents, MessageHasDockersFields) {
    auto m = message("die", {{"exitCode", "3"}});
    EXPECT_EQ(m["status"], "die");
    EXPECT_EQ(m["Action"], "die");
    EXPECT_EQ(m["Type"], "container");
    EXPECT_EQ(m["id"], kId);
    EXPECT_EQ(m["from"], "busybox:1.36");
    EXPECT_EQ(m["scope"], "local");
    EXPECT_EQ(m["time"], 1'700'000'000);
    EXPECT_EQ(m["timeNano"], 1'700'000'000'123'456'789);
    EXPECT_EQ(m["Actor"]["ID"], kId);
    EXPECT_EQ(m["Actor"]["Attributes"],
              (json{{"exitCode", "3"}, {"image", "busybox:1.36"}, {"name", "web"}}));
}

TEST(DockerEvents, FiltersAsMobyMatchesThem) {
    auto m = message("start", {{"devcontainer.local_folder", "/src"}, {"tier", "web"}});
    EXPECT_TRUE(match({}, m));
    EXPECT_TRUE(match({"container=web"}, m));
    EXPECT_TRUE(match({"container=" + kId}, m));
    EXPECT_TRUE(match({"container=aaaa"}, m)); // a prefix of the ID
    EXPECT_TRUE(match({"container=we"}, m));   // of the name too (FuzzyMatch)
    EXPECT_FALSE(match({"container=db"}, m));
    EXPECT_TRUE(match({"container=db", "container=web"}, m)); // one key: any value
    EXPECT_TRUE(match({"event=start"}, m));
    EXPECT_FALSE(match({"event=die"}, m));
    EXPECT_FALSE(match({"event=start", "container=db"}, m)); // keys: all
    EXPECT_TRUE(match({"image=busybox:1.36"}, m));
    EXPECT_TRUE(match({"image=busybox"}, m)); // without its tag
    EXPECT_FALSE(match({"image=debian"}, m));
    EXPECT_TRUE(match({"label=tier"}, m));
    EXPECT_TRUE(match({"label=tier=web", "label=devcontainer.local_folder=/src"}, m));
    EXPECT_FALSE(match({"label=tier=web", "label=devcontainer.local_folder=/other"}, m));
    EXPECT_TRUE(match({"type=container", "scope=local"}, m));
    EXPECT_FALSE(match({"type=image"}, m));
    EXPECT_FALSE(match({"network=host"}, m)); // a kind of event gantry does not record
    EXPECT_FALSE(match({"volume=data"}, m));
    EXPECT_TRUE(match({"image=localhost:5000/busybox:1.36"}, message("start")) == false);
}

// moby's matchEvent: with exec_create, exec_start or health_status among the event values, a
// value also matches the actions it begins; otherwise actions match exactly.
TEST(DockerEvents, ExecEventsMatchByTheirPrefix) {
    auto started = message(gantry::engine::exec_event_action("exec_start", {"sh", "-c", "ls"}),
                           {{"execID", std::string(64, 'e')}});
    EXPECT_EQ(started["Action"], "exec_start: sh -c ls");
    EXPECT_TRUE(match({"event=exec_start"}, started));
    EXPECT_FALSE(match({"event=exec_create"}, started));
    EXPECT_FALSE(match({"event=exec"}, started)); // no fuzzy value among them: exact
    EXPECT_TRUE(match({"event=exec", "event=exec_create"}, started)); // one of them: fuzzy
    auto died = message(gantry::engine::exec_event_action("exec_die", {"sh"}), {{"exitCode", "0"}});
    EXPECT_EQ(died["Action"], "exec_die");
    EXPECT_TRUE(match({"event=exec_die"}, died));
    EXPECT_FALSE(match({"event=exec_start"}, died));
}

TEST(DockerEvents, UnknownFilterIsRefusedByName) {
    try {
        EventFilter({"colour=red"});
        FAIL() << "accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage);
        EXPECT_NE(std::string(e.what()).find("invalid filter 'colour' for events"),
                  std::string::npos);
    }
    EXPECT_THROW(EventFilter({"event"}), Error);
}

TEST(DockerEvents, TimesAsDockersCliReadsThem) {
    const std::int64_t now = 1'700'000'000'000'000'000;
    const std::int64_t s = 1'000'000'000;
    EXPECT_EQ(event_time("10m", now, "--since"), now - 600 * s);
    EXPECT_EQ(event_time("1h30m", now, "--since"), now - 5400 * s);
    EXPECT_EQ(event_time("1700000000", now, "--since"), 1'700'000'000 * s);
    EXPECT_EQ(event_time("1700000000.5", now, "--since"), 1'700'000'000 * s + s / 2);
    EXPECT_EQ(event_time("0", now, "--since"), 0);
    EXPECT_EQ(event_time("2023-11-14T22:13:20Z", now, "--since"), 1'700'000'000 * s);
    EXPECT_EQ(event_time("2023-11-14T22:13:20.25Z", now, "--since"), 1'700'000'000 * s + s / 4);
    EXPECT_EQ(event_time("2023-11-15T00:13:20+02:00", now, "--since"), 1'700'000'000 * s);
    EXPECT_EQ(event_time("2023-11-14T20:13:20-02:00", now, "--since"), 1'700'000'000 * s);
    for (const char* bad : {"yesterday", "10x", "2023-13-01", "2023-11-14T25:00Z", "-5",
                            "2023-11-14T22:13:20+0200", "1.2.3", ""}) {
        try {
            event_time(bad, now, "--until");
            ADD_FAILURE() << bad << " accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::usage) << bad;
            EXPECT_NE(std::string(e.what()).find("--until"), std::string::npos) << e.what();
        }
    }
}

TEST(DockerEvents, LocalTimesUseTheZoneOfNow) {
    const char* old = std::getenv("TZ");
    std::string saved = old ? old : "";
    ::setenv("TZ", "UTC", 1);
    ::tzset();
    const std::int64_t s = 1'000'000'000;
    EXPECT_EQ(event_time("2023-11-14", 0, "--since"), 1'699'920'000 * s);
    EXPECT_EQ(event_time("2023-11-14T22", 0, "--since"), 1'699'999'200 * s);
    EXPECT_EQ(event_time("2023-11-14T22:13", 0, "--since"), 1'699'999'980 * s);
    EXPECT_EQ(event_line(message("die", {{"exitCode", "3"}})),
              "2023-11-14T22:13:20.123456789Z container die " + kId +
                  " (exitCode=3, image=busybox:1.36, name=web)\n");
    if (old)
        ::setenv("TZ", saved.c_str(), 1);
    else
        ::unsetenv("TZ");
    ::tzset();
}

TEST(DockerEvents, LineEscapesWhatALabelCarries) {
    // a label's key or value ends no line and moves no cursor: escaped as Go's %q escapes
    auto m = message("start", {{"evil", "x\n2023-11-14T22:13:20Z container destroy fake"},
                               {"k\x1b[2J", "\r\xe2\x80\xa8"}});
    std::string line = event_line(m);
    EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
    EXPECT_EQ(line.find('\r'), std::string::npos) << line;
    EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
    EXPECT_NE(line.find("(evil=x\\n2023-11-14T22:13:20Z container destroy fake, "
                        "image=busybox:1.36, k\\x1b[2J=\\r\\u2028, name=web)\n"),
              std::string::npos)
        << line;
}

TEST(DockerEvents, TemplateFieldsAreDockersGoNames) {
    auto f = gantry::gotemplate::Format::parse("{{.Status}} {{.ID}} {{.From}} {{.Type}} "
                                               "{{.Action}} {{.Scope}} {{.Time}} {{.TimeNano}} "
                                               "{{.Actor.Attributes.name}}",
                                               events_listing());
    EXPECT_EQ(f.render({message("stop")}), "stop " + kId +
                                               " busybox:1.36 container stop local 1700000000 "
                                               "1700000000123456789 web\n");
    auto j = gantry::gotemplate::Format::parse("json", events_listing());
    EXPECT_EQ(json::parse(j.render({message("stop")})), message("stop"));
    try {
        gantry::gotemplate::Format::parse("{{.Nope}}", events_listing()).render({message("stop")});
        FAIL() << "rendered";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no field .Nope in an event"), std::string::npos)
            << e.what();
    }
}

} // namespace docker_events_test
