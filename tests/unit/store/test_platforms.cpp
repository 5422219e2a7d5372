// store/platforms: a name holding the images of several platforms (an index), how pulls, builds,
// tags and removals change it, what garbage collection keeps, and a store written before
// indexes (refs.json with "refs" only) read as before.
#include "oci/digest.hpp"
#include "oci/image.hpp"
#include "store/gc.hpp"
#include "store/images.hpp"
#include "store/platforms.hpp"
#include "store/store.hpp"
#include "store_test_support.hpp"

#include <gtest/gtest.h>
#include <string>

namespace store_platforms_test {

using namespace store_test;
using gantry::Errc;
using gantry::oci::Digest;
using gantry::oci::json;
using gantry::oci::Platform;
using gantry::store::RefMap;
using gantry::store::Store;
namespace media = gantry::oci::media;
namespace st = gantry::store;

namespace {

const std::string kName = "example.com/app:1";

// The host's platform and one that is not (whatever the host is)
Platform host() {
    return Platform::host();
}
Platform foreign() {
    return Platform::parse(host().architecture == "arm64" ? "linux/amd64" : "linux/arm64");
}

// An image of PLATFORM without layers (SEED makes it unique): its manifest.
Digest image(Store& s, const Platform& p, const std::string& seed) {
    json cfg = {{"architecture", p.architecture},
                {"os", p.os},
                {"created", seed},
                {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}}};
    std::string cfg_text = cfg.dump();
    Digest config = s.put_blob(cfg_text);
    json m = {
        {"schemaVersion", 2},
        {"mediaType", media::oci_manifest},
        {"config",
         {{"mediaType", media::oci_config}, {"digest", config.str()}, {"size", cfg_text.size()}}},
        {"layers", json::array()}};
    return s.put_blob(m.dump());
}

std::vector<std::string> platforms_of(const Store& s, const std::string& name) {
    std::vector<std::string> out;
    for (auto& p : st::name_images(s, name)) out.push_back(p.platform.str());
    return out;
}

} // namespace

TEST(NamePlatforms, APullOfAnotherPlatformKeepsTheFirstAndTheHostsIsTheDefault) {
    TempDir t;
    Store s(t.path());
    Digest theirs = image(s, foreign(), "1"), ours = image(s, host(), "1");
    st::add_image(s, kName, theirs); // pull --platform FOREIGN
    EXPECT_EQ(s.refs().at(kName), theirs);
    EXPECT_FALSE(s.indexes().count(kName)); // one image: no index
    st::add_image(s, kName, ours);          // pull (the host's)
    auto held = st::name_images(s, kName);
    ASSERT_EQ(held.size(), 2u);
    EXPECT_EQ(s.refs().at(kName), ours); // what reads one image per name reads the host's
    EXPECT_EQ(st::name_image_for(s, kName, foreign()), theirs);
    EXPECT_EQ(st::name_image_for(s, kName, host()), ours);
    // the index blob lists both with their platforms, sorted
    auto idx = gantry::oci::Index::parse(s.read_blob(s.indexes().at(kName)));
    ASSERT_EQ(idx.manifests.size(), 2u);
    EXPECT_LT(idx.manifests[0].platform->str(), idx.manifests[1].platform->str());
    // a newer image of one platform replaces that platform's only
    Digest newer = image(s, foreign(), "2");
    st::add_image(s, kName, newer);
    EXPECT_EQ(st::name_image_for(s, kName, foreign()), newer);
    EXPECT_EQ(st::name_image_for(s, kName, host()), ours);
    EXPECT_EQ(st::name_images(s, kName).size(), 2u);
}

TEST(NamePlatforms, AStoreWrittenBeforeIndexesReadsAsOneImagePerName) {
    TempDir t;
    Store s(t.path());
    Digest one = image(s, foreign(), "old");
    spit(t.path() / "refs.json", json{{"refs", {{kName, one.str()}}}}.dump());
    EXPECT_EQ(platforms_of(s, kName), std::vector<std::string>{foreign().str()});
    EXPECT_EQ(st::resolve(s, kName), one);
    st::add_image(s, kName, image(s, host(), "new")); // then gains a platform
    EXPECT_EQ(st::name_images(s, kName).size(), 2u);
}

TEST(NamePlatforms, GivingTheNameAnotherImageOrRemovingItDropsItsIndex) {
    TempDir t;
    Store s(t.path());
    st::set_images(s, kName, {image(s, host(), "a"), image(s, foreign(), "a")});
    ASSERT_TRUE(s.indexes().count(kName));
    Digest single = image(s, host(), "b");
    s.update_refs([&](RefMap& m) { m[kName] = single; }); // a build of one platform, a tag
    EXPECT_FALSE(s.indexes().count(kName));
    EXPECT_EQ(st::name_images(s, kName).size(), 1u);
    st::set_images(s, kName, {image(s, host(), "c"), image(s, foreign(), "c")});
    s.update_refs([&](RefMap& m) { m.erase(kName); });
    EXPECT_FALSE(s.indexes().count(kName));
    EXPECT_TRUE(st::name_images(s, kName).empty());
}

TEST(NamePlatforms, OneImagePerPlatformIsRefused) {
    TempDir t;
    Store s(t.path());
    auto e = error_of([&] {
        st::set_images(s, kName, {image(s, host(), "a"), image(s, host(), "b")});
    });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::invalid);
    EXPECT_TRUE(contains(e->message(), "are both for " + host().str())) << e->message();
}

TEST(NamePlatforms, RemovingOnePlatformKeepsTheOthersAndNamesWhatIsHeld) {
    TempDir t;
    Store s(t.path());
    Digest ours = image(s, host(), "a"), theirs = image(s, foreign(), "a");
    st::set_images(s, kName, {ours, theirs});
    auto removal = st::remove_image(s, kName, false, foreign());
    ASSERT_EQ(removal.deleted.size(), 1u);
    EXPECT_EQ(removal.deleted[0], theirs);
    EXPECT_EQ(platforms_of(s, kName), std::vector<std::string>{host().str()});
    EXPECT_FALSE(s.indexes().count(kName));
    auto e = error_of([&] { st::remove_image(s, kName, false, foreign()); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::not_found);
    EXPECT_TRUE(contains(e->message(), "(it holds " + host().str() + ")")) << e->message();
}

TEST(NamePlatforms, CollectionKeepsEveryPlatformAndRmiFreesThemAll) {
    TempDir t;
    Store s(t.path());
    Digest ours = image(s, host(), "a"), theirs = image(s, foreign(), "a");
    st::set_images(s, kName, {ours, theirs});
    Digest index = s.indexes().at(kName);
    st::prune(s);
    EXPECT_TRUE(s.has_blob(theirs)); // the platform the name's reference does not point at
    EXPECT_TRUE(s.has_blob(index));
    // a tag copies every platform; the image ID of a platform resolves
    st::tag(s, kName, "example.com/copy:2");
    EXPECT_EQ(st::name_images(s, "example.com/copy:2").size(), 2u);
    EXPECT_EQ(st::resolve(s, theirs.str()), theirs);
    st::remove_image(s, "example.com/copy:2", false);
    auto removal = st::remove_image(s, kName, false);
    EXPECT_EQ(removal.deleted.size(), 2u);
    st::collect(s, {removal.deleted.begin(), removal.deleted.end()});
    st::prune(s);
    EXPECT_FALSE(s.has_blob(ours));
    EXPECT_FALSE(s.has_blob(theirs));
    EXPECT_FALSE(s.has_blob(index));
}

} // namespace store_platforms_test
