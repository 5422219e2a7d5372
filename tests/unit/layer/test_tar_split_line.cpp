// tar_split::line writes each line without building a JSON object: the bytes must be those
// nlohmann's dump of the object wrote before (its keys sorted), and parse() must give the entry
// back, for names JSON escapes, names that are not UTF-8 (name_raw), segments and empty files.
#include "layer/tar_split.hpp"
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

} // namespace tar_split_line_test
