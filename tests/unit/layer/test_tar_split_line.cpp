// tar_split::line writes each line without building a JSON object: the bytes must be those
// nlohmann's dump of the object wrote before (its keys sorted), and parse() must give the entry
// back, for names JSON escapes, names that are not UTF-8 (name_raw), segments and empty files.
#include "layer/tar_split.hpp"
#include "util/error.hpp"
#include "util/nettle.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tar_split_line_test {

namespace ts = gantry::layer::tar_split;
using nlohmann::json;

// What line() wrote until 2026-11-28: the object built, then dumped
std::string with_nlohmann(const ts::Entry& e, std::uint64_t position) {
    json j;
    j["type"] = e.file ? 1 : 2;
    if (e.file) {
        try {
            (void)json(e.name).dump();
            j["name"] = e.name;
        } catch (const json::type_error&) {
            j["name_raw"] = gantry::nettle::base64_encode(e.name);
        }
        if (e.size > 0) j["size"] = e.size;
    }
    j["payload"] =
        e.payload.empty() ? json(nullptr) : json(gantry::nettle::base64_encode(e.payload));
    j["position"] = position;
    return j.dump() + "\n";
}

ts::Entry file(std::string name, std::uint64_t size) {
    ts::Entry e;
    e.file = true;
    e.name = std::move(name);
    e.size = size;
    return e;
}

ts::Entry segment(std::string bytes) {
    ts::Entry e;
    e.payload = std::move(bytes);
    return e;
}

TEST(TarSplit, LinesAreWhatNlohmannWritesAndParseGivesThemBack) {
    std::vector<ts::Entry> entries = {
        segment(std::string("ustar\0\x01\xff\"\\", 10)),
        file("usr/bin/a \"quoted\" \\ back\tslash\x01", 12345),
        file("caf\xc3\xa9/\xe2\x82\xac", 1),
        file("latin\xe9", 7), // not UTF-8: name_raw
        file("empty", 0),
        segment(std::string(1000, '\0')),
    };
    std::string text;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        std::string l = ts::line(entries[i], i);
        EXPECT_EQ(l, with_nlohmann(entries[i], i)) << i;
        text += l;
    }
    auto back = ts::parse(text, "test", false);
    ASSERT_EQ(back.size(), entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
        EXPECT_EQ(back[i].file, entries[i].file) << i;
        EXPECT_EQ(back[i].name, entries[i].name) << i;
        EXPECT_EQ(back[i].size, entries[i].size) << i;
        EXPECT_EQ(back[i].payload, entries[i].payload) << i;
    }
}

// Segments' lines as line() writes them are read without nlohmann (a fast path); any other
// spelling of the same object goes through nlohmann and must read the same, and what JSON or the
// format refuses is refused either way.
TEST(TarSplit, SegmentLinesReadTheSameInAnyJsonSpelling) {
    auto payload_of = [](const std::string& l) {
        return ts::parse(l, "test", false).at(0).payload;
    };
    auto refusal_of = [](const std::string& l) {
        try {
            ts::parse(l, "test", false);
        } catch (const gantry::Error& e) {
            return e.message();
        }
        return std::string("(read)");
    };
    for (std::string bytes : {std::string(), std::string("abc"), std::string("\xff\0\x01", 3),
                              std::string(5000, 'x')}) {
        std::string canonical = ts::line(segment(bytes), 0);
        EXPECT_EQ(canonical, json::parse(canonical).dump() + "\n");
        EXPECT_EQ(payload_of(canonical), bytes);
        std::string spaced; // base64 holds neither ':' nor ','
        for (char c : canonical)
            spaced += c == ':' || c == ',' ? std::string(1, c) + " " : std::string(1, c);
        EXPECT_EQ(payload_of(spaced), bytes);
    }
    EXPECT_EQ(payload_of(R"({"payload":"YWJj","position":0,"type":2})"), "abc");
    EXPECT_EQ(payload_of(R"({"payload":null,"position":0,"type":2})"), "");
    EXPECT_EQ(payload_of(R"({"payload": "YWJj", "position": 0, "type": 2})"), "abc");
    EXPECT_EQ(payload_of(R"({"type":2,"payload":"YWJj","position":0})"), "abc");   // Go's order
    EXPECT_EQ(payload_of(R"({"payload":"\/w==","position":0,"type":2})"), "\xff"); // \/ is /
    EXPECT_EQ(payload_of(R"({"payload":"YWJj","position":-0,"type":2})"), "abc");  // JSON's -0
    for (const char* not_json : {R"({"payload":"YWJj","position":00,"type":2})",
                                 R"({"payload":"YWJj","position":0,"type":2}x)",
                                 R"({"payload":"YWJj","position":0,"type":2)"})
        EXPECT_NE(refusal_of(not_json).find("line 1 is not a JSON object"), std::string::npos)
            << not_json;
    EXPECT_NE(refusal_of(R"({"payload":"YWJj","position":1,"type":2})").find("out of order"),
              std::string::npos);
    EXPECT_NE(refusal_of(R"({"payload":"YWJj","position":10000000000000000000,"type":2})")
                  .find("out of order"),
              std::string::npos);
    EXPECT_NE(refusal_of(R"({"payload":"YWJj","position":100000000000000000000,"type":2})")
                  .find("not a whole number"),
              std::string::npos);
    EXPECT_NE(refusal_of(R"({"payload":"YWJj","position":0,"type":2,"type":1})"), "(read)");
    EXPECT_NE(refusal_of(R"({"payload":"YWJj","position":0,"type":2.0})")
                  .find("has a type that is not a whole number"),
              std::string::npos);
    for (const char* bad : {R"({"payload":"Y!Jj","position":0,"type":2})",
                            R"({"payload":"YWJ","position":0,"type":2})"})
        EXPECT_NE(refusal_of(bad).find("has a payload that is not base64"), std::string::npos)
            << bad;
    EXPECT_NE(refusal_of(ts::line(segment(std::string((1u << 20) + 1, 'x')), 0))
                  .find("has a segment over 1048576 bytes"),
              std::string::npos);
}

} // namespace tar_split_line_test
