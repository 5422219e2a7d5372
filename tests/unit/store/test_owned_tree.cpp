// store/owned_tree.hpp's records of the subordinate-id maps a rootless store's owners were
// applied with: meta.json's and STORE/owners.json's shape, their comparison, the message that
// names both ranges, and a run's check of the store's record.
#include "../support/temp_dir.hpp"
#include "store/owned_tree.hpp"
#include "store/store.hpp"
#include "util/error.hpp"

#include <fstream>
#include <gtest/gtest.h>
#include <string>

namespace store_owned_tree_test {

using gantry::Errc;
using gantry::Error;
using gantry::store::SubIdMaps;
using unit_support::TempDir;

namespace {

SubIdMaps range(std::uint32_t uid, std::uint32_t start) {
    SubIdMaps m;
    m.uids = {{0, uid, 1}, {1, start, 65536}};
    m.gids = {{0, uid, 1}, {1, start, 65536}};
    return m;
}

} // namespace

TEST(OwnedTree, MapsAreRecordedAndCompared) {
    auto a = range(1000, 300000);
    auto j = gantry::store::maps_json(a);
    EXPECT_EQ(j["uid_map"].dump(), "[[0,1000,1],[1,300000,65536]]");
    EXPECT_TRUE(gantry::store::same_maps(j, a));
    EXPECT_FALSE(gantry::store::same_maps(j, range(1000, 400000)));
    EXPECT_FALSE(gantry::store::same_maps(j, SubIdMaps{}));
    EXPECT_FALSE(gantry::store::same_maps(gantry::oci::json(), a));
    EXPECT_EQ(gantry::store::describe_maps(j),
              "uids 1-65536 -> 300000-365535; gids 1-65536 -> 300000-365535");
    EXPECT_EQ(gantry::store::describe_maps(gantry::store::maps_json(SubIdMaps{})),
              "no subordinate ids");
}

TEST(OwnedTree, ARunIsRefusedWhereTheStoreWasAppliedWithOtherIds) {
    TempDir dir("gantry-owned-tree");
    gantry::store::Store st(dir.path / "store");
    // no record: nothing was applied, nothing to check
    gantry::store::check_store_maps(st.root(), range(1000, 300000));
    gantry::store::record_store_maps(st, range(1000, 300000));
    gantry::store::check_store_maps(st.root(), range(1000, 300000));
    gantry::store::record_store_maps(st, range(1000, 300000)); // the same: kept
    try {
        gantry::store::check_store_maps(st.root(), range(1000, 400000));
        FAIL() << "other ranges were accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::conflict);
        EXPECT_NE(e.message().find("uids 1-65536 -> 300000-365535"), std::string::npos)
            << e.message();
        EXPECT_NE(e.message().find("400000-465535"), std::string::npos) << e.message();
        EXPECT_NE(e.hint().find("/etc/subuid"), std::string::npos) << e.hint();
    }
    EXPECT_THROW(gantry::store::record_store_maps(st, range(1000, 400000)), Error);
}

} // namespace store_owned_tree_test
