// store/volumes: named volumes as directories under the store, shared by `gantry volume` and
// the Engine API: made whole or not at all, idempotent create, removal with the data, docker's
// name rule; and docker_model's shape and filters of them.
#include "../support/temp_dir.hpp"
#include "docker_model/volumes.hpp"
#include "store/store.hpp"
#include "store/volumes.hpp"
#include "util/error.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

namespace store_volumes_test {

using gantry::Errc;
using gantry::Error;
using gantry::store::Store;
using unit_support::TempDir;
namespace sv = gantry::store;

TEST(Volumes, CreateFindListRemove) {
    TempDir t("gantry-volumes");
    Store st(t.path);
    auto v = sv::create_volume(st, "data1", {{"a", "b"}});
    EXPECT_EQ(v.mountpoint, t.path / "volumes/data1/_data");
    EXPECT_TRUE(std::filesystem::is_directory(v.mountpoint));
    std::ofstream(v.mountpoint / "f") << "12345";
    auto again = sv::create_volume(st, "data1", {}); // docker's create: idempotent
    EXPECT_EQ(again.labels, v.labels);
    EXPECT_EQ(again.created, v.created);
    auto found = sv::find_volume(st, "data1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->labels.at("a"), "b");
    EXPECT_EQ(sv::volume_size(*found), 5u);
    auto anon = sv::create_volume(st, "", {});
    EXPECT_EQ(anon.name.size(), 64u);
    auto all = sv::list_volumes(st);
    ASSERT_EQ(all.size(), 2u);
    sv::remove_volume(st, "data1");
    EXPECT_FALSE(sv::find_volume(st, "data1"));
    EXPECT_FALSE(std::filesystem::exists(t.path / "volumes/data1"));
    EXPECT_EQ(sv::list_volumes(st).size(), 1u);
    // nothing left behind by the renames
    for (auto& e : std::filesystem::directory_iterator(t.path / "volumes"))
        EXPECT_EQ(e.path().filename().string().front() != '.', true) << e.path();
}

TEST(Volumes, RefusesBadNamesOtherLabelsAndMissingOnes) {
    TempDir t("gantry-volumes");
    Store st(t.path);
    for (auto bad : {"a", "../x", ".hidden", "-x", "a/b", "a b"}) {
        EXPECT_FALSE(sv::valid_volume_name(bad)) << bad;
        try {
            sv::create_volume(st, bad, {});
            ADD_FAILURE() << bad;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::usage);
        }
        EXPECT_FALSE(sv::find_volume(st, bad));
    }
    EXPECT_TRUE(sv::valid_volume_name("a1.b_c-d"));
    sv::create_volume(st, "v1", {{"k", "1"}});
    try {
        sv::create_volume(st, "v1", {{"k", "2"}});
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::conflict);
    }
    try {
        sv::remove_volume(st, "nope");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
    }
}

TEST(Volumes, DockersShapeAndFilters) {
    TempDir t("gantry-volumes");
    Store st(t.path);
    auto v = sv::create_volume(st, "web-data", {{"app", "web"}, {"tier", ""}});
    auto j = gantry::docker_model::inspect_volume(v);
    EXPECT_EQ(j["Driver"], "local");
    EXPECT_EQ(j["Scope"], "local");
    EXPECT_EQ(j["Mountpoint"], v.mountpoint.string());
    EXPECT_EQ(j["Labels"]["app"], "web");
    using gantry::docker_model::volume_matches;
    EXPECT_TRUE(volume_matches(v, {}));
    EXPECT_TRUE(volume_matches(v, {"label=app"}));
    EXPECT_TRUE(volume_matches(v, {"label=app=web"}));
    EXPECT_FALSE(volume_matches(v, {"label=app=db"}));
    EXPECT_TRUE(volume_matches(v, {"label=app=db", "label=tier"})); // same key: OR
    EXPECT_FALSE(volume_matches(v, {"label=app", "name=other"}));   // keys: AND
    EXPECT_TRUE(volume_matches(v, {"name=web", "driver=local", "dangling=true"}));
    EXPECT_THROW(volume_matches(v, {"bogus=1"}), Error);
    // dangling: not mounted by any container
    EXPECT_FALSE(volume_matches(v, {"dangling=true"}, true));
    EXPECT_TRUE(volume_matches(v, {"dangling=false"}, true));
    EXPECT_FALSE(volume_matches(v, {"dangling=0"}));
    EXPECT_THROW(volume_matches(v, {"dangling=maybe"}), Error);
}

} // namespace store_volumes_test
