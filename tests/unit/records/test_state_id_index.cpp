// The state directory's ID index (records::StateDir, DIR/.ids/ID): a lookup by ID or ID prefix
// reads the one record the index names instead of every record, follows a rename and a removal,
// and stays right when the index is wrong or missing: a stale entry (a crash between steps, or
// an entry planted by hand) is checked against the record it names, and a record the index lacks
// (made by an older gantry) is still found by the scan.
#include "../support/temp_dir.hpp"
#include "records/state.hpp"

#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

namespace records_state_id_index_test {

using gantry::records::ContainerState;
using gantry::records::StateDir;
using unit_support::TempDir;
namespace stdfs = std::filesystem;

namespace {

ContainerState created(const std::string& name, const std::string& id) {
    ContainerState s;
    s.name = name;
    s.id = id;
    s.status = "created";
    s.startable = true;
    return s;
}

std::string link_text(const stdfs::path& p) {
    std::error_code ec;
    auto t = stdfs::read_symlink(p, ec);
    return ec ? "" : t.string();
}

} // namespace

TEST(StateIdIndex, CreateRenameAndRemoveKeepTheEntryTrue) {
    TempDir t("gantry-state-ids");
    StateDir dir(t.path);
    { auto owner = dir.create(created("web", "0123456789ab")); }
    EXPECT_EQ(link_text(t.path / ".ids" / "0123456789ab"), "web");
    ASSERT_TRUE(dir.find("0123456789ab"));
    EXPECT_EQ(dir.find("0123456789ab")->name, "web");
    EXPECT_EQ(dir.find("0123")->name, "web"); // a prefix
    dir.rename("web", "api");
    EXPECT_EQ(link_text(t.path / ".ids" / "0123456789ab"), "api");
    EXPECT_EQ(dir.find("0123456789ab")->name, "api");
    EXPECT_TRUE(dir.remove("api"));
    EXPECT_FALSE(stdfs::exists(stdfs::symlink_status(t.path / ".ids" / "0123456789ab")));
    EXPECT_FALSE(dir.find("0123456789ab"));
    EXPECT_FALSE(dir.find("0123"));
}

TEST(StateIdIndex, AnEntryIsCheckedAgainstTheRecordItNames) {
    TempDir t("gantry-state-ids");
    StateDir dir(t.path);
    { auto owner = dir.create(created("one", "aaaaaaaaaaaa")); }
    { auto owner = dir.create(created("two", "bbbbbbbbbbbb")); }
    // a planted (or stale) entry: ID c... says "one", whose record is another container's
    stdfs::create_symlink("one", t.path / ".ids" / "cccccccccccc");
    EXPECT_FALSE(dir.find("cccccccccccc"));
    EXPECT_FALSE(dir.find("cccc"));
    // an entry naming a path, not a name: never followed
    stdfs::create_symlink("../../etc", t.path / ".ids" / "dddddddddddd");
    EXPECT_FALSE(dir.find("dddddddddddd"));
    // an entry pointing at the wrong container for a real ID: the scan finds the right one
    stdfs::remove(t.path / ".ids" / "bbbbbbbbbbbb");
    stdfs::create_symlink("one", t.path / ".ids" / "bbbbbbbbbbbb");
    ASSERT_TRUE(dir.find("bbbbbbbbbbbb"));
    EXPECT_EQ(dir.find("bbbbbbbbbbbb")->name, "two");
    EXPECT_EQ(dir.find("aaaaaaaaaaaa")->name, "one");
}

TEST(StateIdIndex, ARecordTheIndexLacksIsFoundByTheScan) {
    TempDir t("gantry-state-ids");
    StateDir dir(t.path);
    { auto owner = dir.create(created("old", "eeeeeeeeeeee")); }
    stdfs::remove_all(t.path / ".ids"); // as an older gantry left it
    ASSERT_TRUE(dir.find("eeeeeeeeeeee"));
    EXPECT_EQ(dir.find("eeee")->name, "old");
    EXPECT_TRUE(dir.remove("old")); // no entry to remove: no error
    EXPECT_FALSE(dir.find("eeeeeeeeeeee"));
}

TEST(StateIdIndex, ANameThatLooksLikeAnIdIsFoundAsTheName) {
    TempDir t("gantry-state-ids");
    StateDir dir(t.path);
    { auto owner = dir.create(created("abcdef", "111111111111")); }
    { auto owner = dir.create(created("other", "abcdef000000")); }
    EXPECT_EQ(dir.find("abcdef")->id, "111111111111"); // docker's rule: a name first
    EXPECT_EQ(dir.find("abcdef0")->name, "other");
}

} // namespace records_state_id_index_test
