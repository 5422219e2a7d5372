// records/state_cache: a state file is parsed once while it stays the same file, again once it
// is replaced (as StateDir::save replaces it), and a damaged or missing one is nothing.
#include "../support/temp_dir.hpp"
#include "records/state_cache.hpp"

#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <stdexcept>
#include <string>

namespace records_state_cache_test {

using gantry::records::cached_state;
using gantry::records::ContainerState;
using unit_support::TempDir;

namespace {

void replace(const std::filesystem::path& file, const std::string& text) {
    auto tmp = file.string() + ".tmp";
    std::ofstream(tmp) << text;
    std::rename(tmp.c_str(), file.c_str()); // a new inode, as fs::write_atomic makes
}

} // namespace

TEST(StateCache, ParsedOnceUntilTheFileIsReplaced) {
    TempDir t("gantry-state-cache");
    auto file = t.path / "state.json";
    int parses = 0;
    auto parse = [&parses](const std::string& text) {
        ++parses;
        if (text.rfind("bad", 0) == 0) throw std::runtime_error("damaged");
        ContainerState s;
        s.name = text;
        return s;
    };
    EXPECT_FALSE(cached_state(file, parse)); // missing
    replace(file, "one");
    EXPECT_EQ(cached_state(file, parse)->name, "one");
    EXPECT_EQ(cached_state(file, parse)->name, "one");
    EXPECT_EQ(parses, 1);
    replace(file, "two"); // same size, another file
    EXPECT_EQ(cached_state(file, parse)->name, "two");
    EXPECT_EQ(parses, 2);
    replace(file, "bad state");
    EXPECT_FALSE(cached_state(file, parse));
    EXPECT_FALSE(cached_state(file, parse)); // a damaged file is never cached
    EXPECT_EQ(parses, 4);
}

TEST(StateCache, AHitSharesTheSnapshotAndAReplacedFileGetsANewOne) {
    TempDir t("gantry-state-cache");
    auto file = t.path / "state.json";
    auto parse = [](const std::string& text) {
        ContainerState s;
        s.name = text;
        return s;
    };
    replace(file, "one");
    auto first = cached_state(file, parse);
    ASSERT_TRUE(first);
    EXPECT_EQ(cached_state(file, parse).get(), first.get()); // no copy
    replace(file, "two");
    auto second = cached_state(file, parse);
    ASSERT_TRUE(second);
    EXPECT_NE(second.get(), first.get());
    EXPECT_EQ(second->name, "two");
    EXPECT_EQ(first->name, "one"); // a reader's snapshot is never changed under it
}

} // namespace records_state_cache_test
