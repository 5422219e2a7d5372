// runtime/idmap: the subordinate-id ranges read from /etc/subuid and /etc/subgid style files.
#include "runtime/idmap.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

using namespace gantry;

namespace {

struct SubIdFile {
    std::string path;
    explicit SubIdFile(const std::string& text)
        : path((std::filesystem::temp_directory_path() /
                ("gantry-subid-" + std::to_string(::getpid()) + "-" + std::to_string(++n)))
                   .string()) {
        std::ofstream(path) << text;
    }
    ~SubIdFile() { std::remove(path.c_str()); }
    static inline int n = 0;
};

bool is(const std::optional<runtime::SubIdRange>& r, std::uint32_t start, std::uint32_t count) {
    return r && r->start == start && r->count == count;
}

} // namespace

TEST(SubIds, FirstRangeOfTheUserByNameOrUid) {
    SubIdFile f("# no comment syntax, but no colon either\n"
                "root:100000:65536\n"
                "alice:165536:65536\n"
                "alice:300000:10\n"
                "1001:231072:65536\n");
    EXPECT_TRUE(is(runtime::find_subid_range(f.path, "alice", 1000), 165536, 65536));
    EXPECT_TRUE(is(runtime::find_subid_range(f.path, "bob", 1001), 231072, 65536));
    EXPECT_FALSE(runtime::find_subid_range(f.path, "carol", 1002));
    EXPECT_FALSE(runtime::find_subid_range(f.path + ".missing", "alice", 1000));
}

TEST(SubIds, MalformedRangesAreSkipped) {
    // a sign, spaces, a suffix, an empty or zero count, 32-bit overflow: each line skipped, the
    // next well-formed one used (stoul took "-5" as 2^64-5 and "10x" as 10)
    SubIdFile f("alice:-5:10\n"
                "alice: 5:10\n"
                "alice:5:10x\n"
                "alice:5:\n"
                "alice:5:0\n"
                "alice:4294967295:2\n"
                "alice:99999999999:1\n"
                "alice:200000:65536\n");
    EXPECT_TRUE(is(runtime::find_subid_range(f.path, "alice", 1000), 200000, 65536));
    SubIdFile only_bad("alice:+5:10\nalice:5:-1\n");
    EXPECT_FALSE(runtime::find_subid_range(only_bad.path, "alice", 1000));
    // the whole 32-bit space is still a valid range
    SubIdFile edge("alice:4294967295:1\n");
    EXPECT_TRUE(is(runtime::find_subid_range(edge.path, "alice", 1000), 4294967295u, 1));
}
