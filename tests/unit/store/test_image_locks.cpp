// The use-hold lock files (ROOT/locks/image-<hex>, store/store.hpp): made by an image's first
// run, removed by `rmi` (collect) and `system prune` once nobody holds them, so locks/ does not
// grow by one file per image ever run; a held one stays, and still keeps its image in use.
#include "../support/temp_dir.hpp"
#include "oci/digest.hpp"
#include "store/gc.hpp"
#include "store/store.hpp"

#include <filesystem>
#include <gtest/gtest.h>
#include <set>
#include <string>
#include <unistd.h>

namespace store_image_locks_test {

using unit_support::TempDir;
namespace stdfs = std::filesystem;
using gantry::oci::Digest;
using gantry::store::Store;

namespace {

std::set<std::string> image_locks(const Store& st) {
    std::set<std::string> out;
    for (auto& e : stdfs::directory_iterator(st.root() / "locks"))
        if (e.path().filename().string().starts_with("image-"))
            out.insert(e.path().filename().string());
    return out;
}

std::string lock_name(const Digest& d) {
    return "image-" + d.hex();
}

} // namespace

TEST(ImageLocks, PruneRemovesTheLocksOfFinishedRuns) {
    // Regression: every image ever run left its lock file in locks/ for good.
    TempDir t("gantry-imglocks");
    Store st(t.path);
    for (int i = 0; i < 5; ++i) {
        auto lock = st.use_image(Digest::of("image " + std::to_string(i)));
    }
    EXPECT_EQ(image_locks(st).size(), 5u);
    gantry::store::prune(st);
    EXPECT_TRUE(image_locks(st).empty());
}

TEST(ImageLocks, AHeldLockSurvivesDropAndStillCounts) {
    // near miss: a running container's lock stays, and its image is still in use afterwards
    TempDir t("gantry-imglocks");
    Store st(t.path);
    Digest running = Digest::of("running"), done = Digest::of("done");
    auto held = st.use_image(running);
    { auto l = st.use_image(done); }
    auto lock = st.gc_lock();
    st.drop_unused_image_locks();
    EXPECT_EQ(image_locks(st), std::set<std::string>{lock_name(running)});
    EXPECT_EQ(st.images_in_use(), std::set<Digest>{running});
}

TEST(ImageLocks, CollectRemovesOnlyTheRemovedImagesLocks) {
    // `rmi` frees its image's lock file and leaves other images' (prune's job) alone
    TempDir t("gantry-imglocks");
    Store st(t.path);
    Digest gone = Digest::of("gone"), other = Digest::of("other");
    { auto a = st.use_image(gone), b = st.use_image(other); }
    gantry::store::collect(st, {gone});
    EXPECT_EQ(image_locks(st), std::set<std::string>{lock_name(other)});
}

} // namespace store_image_locks_test
