// The event journal (records/events.hpp): appends from several processes at once stay whole
// lines, a reader sees each event once across rotations, a line still being written waits.
#include "records/events.hpp"

#include <algorithm>
#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace records_events_test {

using namespace gantry::records;
namespace stdfs = std::filesystem;

struct TempDir {
    stdfs::path path;
    TempDir() {
        char t[] = "/tmp/gantry-events-XXXXXX";
        path = ::mkdtemp(t);
    }
    ~TempDir() { stdfs::remove_all(path); }
};

ContainerEvent event(const std::string& action, int n) {
    return ContainerEvent{action, std::string(64, 'b'), "c" + std::to_string(n), "img", {}, 0};
}

TEST(EventJournal, ReaderSeesEachEventOnceInOrder) {
    TempDir d;
    EventJournal j(d.path);
    EventReader r(d.path);
    EXPECT_TRUE(r.next().empty()); // no journal yet
    j.append(event("create", 1));
    j.append(event("start", 1));
    auto got = r.next();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0]["Action"], "create");
    EXPECT_EQ(got[1]["Action"], "start");
    EXPECT_GT(got[0]["timeNano"].get<std::int64_t>(), 0);
    EXPECT_TRUE(r.next().empty());
    r.wait(0);               // takes what the appends above signalled
    EXPECT_FALSE(r.wait(0)); // and then nothing changed
    j.append(event("die", 1));
    EXPECT_TRUE(r.wait(5000));
    got = r.next();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0]["Action"], "die");
}

TEST(EventJournal, AHalfWrittenLineWaitsForItsEnd) {
    TempDir d;
    EventReader r(d.path);
    auto f = d.path / "events.jsonl";
    {
        std::ofstream out(f);
        out << "{\"Action\":\"create\"}\n{\"Action\":\"st";
    }
    auto got = r.next();
    ASSERT_EQ(got.size(), 1u);
    int fd = ::open(f.c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "art\"}\nnot json\n", 15), 15);
    ::close(fd);
    got = r.next(); // the line that is not JSON is skipped with a warning
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0]["Action"], "start");
}

TEST(EventJournal, RotationLosesNothingAndDuplicatesNothing) {
    TempDir d;
    EventJournal j(d.path);
    EventReader r(d.path);
    std::string big(4000, 'x'); // ~4 KB events: a rotation every ~260
    int seen = 0, next_expected = 0;
    for (int i = 0; i < 700; ++i) {
        auto e = event("start", i);
        e.attributes["pad"] = big;
        j.append(e);
        if (i % 97 == 0)
            for (auto& m : r.next()) {
                EXPECT_EQ(m["Actor"]["Attributes"]["name"], "c" + std::to_string(next_expected));
                ++next_expected, ++seen;
            }
    }
    for (auto& m : r.next()) {
        EXPECT_EQ(m["Actor"]["Attributes"]["name"], "c" + std::to_string(next_expected));
        ++next_expected, ++seen;
    }
    EXPECT_EQ(seen, 700);
    EXPECT_TRUE(stdfs::exists(d.path / "events.jsonl.1"));
    EXPECT_LT(stdfs::file_size(d.path / "events.jsonl"), EventJournal::kRotateBytes + 8192);
    // a new reader sees what is kept: the rotated file and the current one, oldest first
    EventReader fresh(d.path);
    auto kept = fresh.next();
    ASSERT_FALSE(kept.empty());
    EXPECT_EQ(kept.back()["Actor"]["Attributes"]["name"], "c699");
}

TEST(EventJournal, ConcurrentAppendersWriteWholeLines) {
    TempDir d;
    constexpr int kProcs = 4, kEach = 150;
    std::vector<pid_t> pids;
    for (int p = 0; p < kProcs; ++p) {
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            EventJournal j(d.path);
            for (int i = 0; i < kEach; ++i) {
                auto e = event("start", p * 1000 + i);
                e.attributes["pad"] = std::string(3000, char('a' + p));
                j.append(e);
            }
            ::_exit(0);
        }
        pids.push_back(pid);
    }
    for (pid_t pid : pids) {
        int st = 0;
        ASSERT_EQ(::waitpid(pid, &st, 0), pid);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    EventReader r(d.path);
    auto got = r.next();
    EXPECT_EQ(got.size(), std::size_t(kProcs * kEach)); // 1.8 MB: across one rotation
    std::map<int, int> last;
    for (auto& m : got) {
        int n = std::stoi(m["Actor"]["Attributes"]["name"].get<std::string>().substr(1));
        int p = n / 1000;
        auto it = last.find(p);
        if (it != last.end()) { // each process's in its order
            EXPECT_EQ(n, it->second + 1);
        }
        last[p] = n;
    }
}

TEST(EventJournal, AnUnwritableDirectoryIsAWarningNotAFailure) {
    EventJournal j("/proc/no-such-dir");
    testing::internal::CaptureStderr();
    j.append(event("create", 1));
    j.append(event("start", 1)); // said once
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("c1's create event is not in `gantry events`"), std::string::npos) << err;
    EXPECT_EQ(err.find("start event"), std::string::npos) << err;
}

// The journal's line is written without building the JSON tree: byte for byte what
// event_message(e).dump() writes, hostile strings included (labels come from image configs).
TEST(EventJournal, LineIsTheMessagesDumpByteForByte) {
    using Attrs = std::map<std::string, std::string>;
    const std::string bad_utf8 = "a\xff\xc3(b",
                      controls = std::string("q\"\\\n\t\x01\x7f", 7) + '\0';
    std::vector<ContainerEvent> events = {
        {"die",
         std::string(64, 'a'),
         "web",
         "busybox:1.36",
         {{"exitCode", "3"}},
         1'700'000'000'123'456'789},
        {"create", "id", "", "", {}, 0},
        {"start", "id", "n", "img",
         Attrs{{"image", "label's"},
               {"name", "label's"},
               {"Zeta", "1"},
               {"alpha", "2"},
               {"\xc3\xa9t\xc3\xa9", "3"},
               {"_", "4"}},
         42},
        {"kill", bad_utf8, controls, "r\xc3\xa9g/\xe2\x82\xac:1",
         Attrs{{bad_utf8, controls}, {controls, bad_utf8}}, -5},
        {controls, "x", bad_utf8, controls, Attrs{{"signal", "9"}}, 999'999'999},
    };
    for (const auto& e : events) {
        auto want = event_message(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        EXPECT_EQ(event_line(e), want);
    }
    // and a line reads back as the message
    auto back = nlohmann::json::parse(event_line(events[2]));
    EXPECT_EQ(back["Actor"]["Attributes"]["image"], "img");
    EXPECT_EQ(back["Actor"]["Attributes"]["name"], "n");
    EXPECT_EQ(back["time"], 0);
    EXPECT_EQ(back["timeNano"], 42);
}

TEST(EventJournal, AppendAllWritesTheEventsInOrderKeepingTheirTimes) {
    TempDir d;
    EventJournal j(d.path);
    EventReader r(d.path);
    std::vector<ContainerEvent> both = {event("create", 1), event("start", 1)};
    both[0].time_nano = 1'700'000'000'000'000'001; // stamped when it happened, written later
    j.append_all(both);
    j.append_all({}); // nothing: no line
    auto got = r.next();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0]["Action"], "create");
    EXPECT_EQ(got[0]["timeNano"], 1'700'000'000'000'000'001);
    EXPECT_EQ(got[1]["Action"], "start");
    EXPECT_GT(got[1]["timeNano"].get<std::int64_t>(), got[0]["timeNano"].get<std::int64_t>());
    std::ifstream in(d.path / "events.jsonl");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
}

} // namespace records_events_test
