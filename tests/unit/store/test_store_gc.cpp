// store/gc: garbage collection (prune, collect), disk usage, and fsck's verification and repair
// of a store holding images written by hand.
#include "oci/digest.hpp"
#include "oci/image.hpp"
#include "store/gc.hpp"
#include "store/store.hpp"
#include "store_test_support.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <set>
#include <string>
#include <sys/stat.h>

namespace store_gc_test {

using namespace store_test;
using gantry::Fd;
using gantry::oci::Digest;
using gantry::oci::json;
using gantry::store::PendingLayer;
using gantry::store::RefMap;
using gantry::store::Store;
namespace stdfs = std::filesystem;
namespace media = gantry::oci::media;
namespace gc = gantry::store;

namespace {

// An image written by hand: a config naming one diffID, a layer blob, and a manifest.
struct FakeImage {
    Digest manifest, config, layer_blob, diff_id;
};

FakeImage make_image(Store& s, const std::string& seed, bool with_layer_tree = true) {
    FakeImage img;
    img.layer_blob = s.put_blob("layer blob " + seed);
    img.diff_id = Digest::of("layer tar " + seed);
    json cfg = {{"architecture", "amd64"},
                {"os", "linux"},
                {"rootfs", {{"type", "layers"}, {"diff_ids", {img.diff_id.str()}}}}};
    std::string cfg_text = cfg.dump();
    img.config = s.put_blob(cfg_text);
    json m = {{"schemaVersion", 2},
              {"mediaType", media::oci_manifest},
              {"config",
               {{"mediaType", media::oci_config},
                {"digest", img.config.str()},
                {"size", cfg_text.size()}}},
              {"layers",
               {{{"mediaType", media::oci_layer_gzip},
                 {"digest", img.layer_blob.str()},
                 {"size", 10 + seed.size()}}}}};
    img.manifest = s.put_blob(m.dump());
    if (with_layer_tree) {
        PendingLayer pl = s.begin_layer();
        Fd f(::openat(pl.rootfs_fd(), "file", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        EXPECT_TRUE(f);
        gantry::fs::write_all(f.get(), seed.data(), seed.size(), "file");
        json meta = {{"blob", img.layer_blob.str()}, {"size", 4096}};
        pl.commit(img.diff_id, meta.dump());
    }
    return img;
}

} // namespace

// --- garbage collection ----------------------------------------------------------------------

TEST(Gc, PruneKeepsReferencedAndRemovesTheRest) {
    TempDir t;
    Store s(t.path());
    FakeImage kept = make_image(s, "kept");
    FakeImage held = make_image(s, "held");
    FakeImage dropped = make_image(s, "dropped");
    Digest loose = s.put_blob("nobody needs me");
    s.update_refs([&](RefMap& m) { m["example.com/kept:1"] = kept.manifest; });
    s.add_hold("ctr", held.manifest);
    // Work in progress left behind by a crash.
    spit(s.tmp_dir() / "blob-stale", "x");
    stdfs::create_directories(s.tmp_dir() / "layer-stale/rootfs/deep");
    ASSERT_EQ(::chmod((s.tmp_dir() / "layer-stale/rootfs").c_str(), 0555), 0);

    auto r = gc::prune(s);
    EXPECT_EQ(r.blobs, 4u); // dropped's manifest, config and layer blob + the loose one
    EXPECT_EQ(r.layers, 1u);
    EXPECT_EQ(r.tmp_entries, 2u);
    EXPECT_GT(r.bytes, 0u);

    for (const FakeImage* img : {&kept, &held}) {
        EXPECT_TRUE(s.has_blob(img->manifest));
        EXPECT_TRUE(s.has_blob(img->config));
        EXPECT_TRUE(s.has_blob(img->layer_blob));
        EXPECT_TRUE(s.has_layer(img->diff_id));
    }
    EXPECT_FALSE(s.has_blob(dropped.manifest));
    EXPECT_FALSE(s.has_blob(dropped.config));
    EXPECT_FALSE(s.has_blob(dropped.layer_blob));
    EXPECT_FALSE(s.has_layer(dropped.diff_id));
    EXPECT_FALSE(present(s.layer_dir(dropped.diff_id)));
    EXPECT_FALSE(s.has_blob(loose));
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());

    // Nothing more to do the second time.
    auto again = gc::prune(s);
    EXPECT_EQ(again.blobs, 0u);
    EXPECT_EQ(again.layers, 0u);
    EXPECT_EQ(again.tmp_entries, 0u);
}

TEST(Gc, SharedContentSurvives) {
    TempDir t;
    Store s(t.path());
    FakeImage a = make_image(s, "same");
    FakeImage b = make_image(s, "same"); // identical content: same blobs
    EXPECT_EQ(a.manifest, b.manifest);
    s.update_refs([&](RefMap& m) {
        m["x:1"] = a.manifest;
        m["x:2"] = a.manifest;
    });
    gc::prune(s);
    EXPECT_TRUE(s.has_blob(a.layer_blob));
    EXPECT_TRUE(s.has_layer(a.diff_id));
}

TEST(Gc, CollectFreesOnlyWhatNothingElseNeeds) {
    TempDir t;
    Store s(t.path());
    FakeImage gone = make_image(s, "gone");
    FakeImage other = make_image(s, "other");
    s.update_refs([&](RefMap& m) { m["other:1"] = other.manifest; });
    auto r = gc::collect(s, {gone.manifest, other.manifest});
    EXPECT_EQ(r.blobs, 3u);
    EXPECT_EQ(r.layers, 1u);
    EXPECT_FALSE(s.has_blob(gone.manifest));
    EXPECT_FALSE(s.has_blob(gone.config));
    EXPECT_FALSE(s.has_blob(gone.layer_blob));
    EXPECT_FALSE(s.has_layer(gone.diff_id));
    EXPECT_TRUE(s.has_blob(other.manifest));
    EXPECT_TRUE(s.has_layer(other.diff_id));
}

TEST(Gc, DiskUsage) {
    TempDir t;
    Store s(t.path());
    FakeImage used = make_image(s, "used");
    FakeImage unused = make_image(s, "unused");
    (void)unused;
    s.update_refs([&](RefMap& m) { m["u:1"] = used.manifest; });
    spit(s.tmp_dir() / "junk", std::string(10000, 'j'));
    auto u = gc::disk_usage(s);
    EXPECT_EQ(u.images, 1u);
    EXPECT_EQ(u.blobs, 6u);
    EXPECT_EQ(u.unused_blobs, 3u);
    EXPECT_EQ(u.layers, 2u);
    EXPECT_EQ(u.unused_layers, 1u);
    EXPECT_EQ(u.layer_bytes, 2u * 4096u); // from meta.json
    EXPECT_EQ(u.unused_layer_bytes, 4096u);
    EXPECT_GT(u.blob_bytes, u.unused_blob_bytes);
    EXPECT_GE(u.tmp_bytes, 10000u);
}

// --- fsck ------------------------------------------------------------------------------------

TEST(Fsck, CleanStore) {
    TempDir t;
    Store s(t.path());
    FakeImage img = make_image(s, "clean");
    s.update_refs([&](RefMap& m) { m["c:1"] = img.manifest; });
    auto rep = gc::fsck(s, false);
    EXPECT_EQ(rep.blobs_checked, 3u);
    EXPECT_GT(rep.bytes_checked, 0u);
    EXPECT_TRUE(rep.problems.empty());
}

TEST(Fsck, DetectsAndRepairsCorruptBlob) {
    TempDir t;
    Store s(t.path());
    FakeImage img = make_image(s, "victim");
    FakeImage fine = make_image(s, "fine");
    s.update_refs([&](RefMap& m) {
        m["v:1"] = img.manifest;
        m["f:1"] = fine.manifest;
    });
    spit(s.blob_path(img.layer_blob), "bit rot");

    auto rep = gc::fsck(s, false);
    ASSERT_EQ(rep.problems.size(), 1u);
    EXPECT_EQ(rep.problems[0].kind, "corrupt-blob");
    EXPECT_EQ(rep.problems[0].object, img.layer_blob.str());
    EXPECT_TRUE(contains(rep.problems[0].detail, Digest::of("bit rot").str()))
        << rep.problems[0].detail;
    EXPECT_FALSE(rep.problems[0].repaired);
    EXPECT_TRUE(s.has_blob(img.layer_blob)); // report only
    EXPECT_TRUE(s.has_layer(img.diff_id));

    rep = gc::fsck(s, true);
    ASSERT_GE(rep.problems.size(), 1u);
    EXPECT_EQ(rep.problems[0].kind, "corrupt-blob");
    EXPECT_TRUE(rep.problems[0].repaired);
    EXPECT_FALSE(s.has_blob(img.layer_blob));
    // The tree unpacked from the corrupt blob is removed too; the other image is untouched.
    EXPECT_FALSE(s.has_layer(img.diff_id));
    EXPECT_TRUE(s.has_blob(fine.layer_blob));
    EXPECT_TRUE(s.has_layer(fine.diff_id));

    // Afterwards the blob and the tree are reported missing (the image must be loaded again).
    rep = gc::fsck(s, false);
    std::set<std::string> kinds;
    for (auto& p : rep.problems) kinds.insert(p.kind + " " + p.object);
    EXPECT_TRUE(kinds.count("missing-blob " + img.layer_blob.str()));
    EXPECT_TRUE(kinds.count("missing-layer " + img.diff_id.str()));
    EXPECT_EQ(rep.problems.size(), 2u);
}

TEST(Fsck, BadManifestAndMissingConfig) {
    TempDir t;
    Store s(t.path());
    FakeImage img = make_image(s, "x");
    Digest not_a_manifest = s.put_blob("{\"hello\": 1}");
    s.update_refs([&](RefMap& m) {
        m["x:1"] = img.manifest;
        m["bad:1"] = not_a_manifest;
    });
    ASSERT_EQ(::unlink(s.blob_path(img.config).c_str()), 0);
    auto rep = gc::fsck(s, false);
    std::set<std::string> kinds;
    for (auto& p : rep.problems) kinds.insert(p.kind + " " + p.object);
    EXPECT_TRUE(kinds.count("bad-manifest " + not_a_manifest.str()));
    EXPECT_TRUE(kinds.count("bad-manifest " + img.manifest.str())); // its config is missing
}

} // namespace store_gc_test
