// Image sizes recorded with the references (store.hpp's ImageSize), the build cache as prune
// sees it (store/build_cache.hpp), and prune's --build-cache / builder prune selection.
#include "oci/digest.hpp"
#include "oci/image.hpp"
#include "store/build_cache.hpp"
#include "store/gc.hpp"
#include "store/images.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

namespace prune_test {

using gantry::oci::Digest;
using gantry::oci::json;
using gantry::store::RefMap;
using gantry::store::Store;
namespace stdfs = std::filesystem;
namespace st = gantry::store;

namespace {

struct PruneTmp {
    PruneTmp() {
        std::string tmpl = (stdfs::temp_directory_path() / "gantry-prune-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    ~PruneTmp() {
        try {
            gantry::fs::remove_tree(path);
        } catch (...) {
        }
    }
    stdfs::path path;
};

struct PruneImage {
    Digest manifest, config, blob, diff_id;
    std::uint64_t compressed = 0;
};

// One image of one layer whose meta.json records CONTENT bytes of file data.
PruneImage prune_image(Store& s, const std::string& seed, std::uint64_t content) {
    PruneImage img;
    std::string blob = "layer blob " + seed;
    img.blob = s.put_blob(blob);
    img.diff_id = Digest::of("layer tar " + seed);
    json cfg = {{"architecture", "amd64"},
                {"os", "linux"},
                {"rootfs", {{"type", "layers"}, {"diff_ids", {img.diff_id.str()}}}}};
    std::string cfg_text = cfg.dump();
    img.config = s.put_blob(cfg_text);
    json m = {{"schemaVersion", 2},
              {"mediaType", gantry::oci::media::oci_manifest},
              {"config",
               {{"mediaType", gantry::oci::media::oci_config},
                {"digest", img.config.str()},
                {"size", cfg_text.size()}}},
              {"layers",
               {{{"mediaType", gantry::oci::media::oci_layer_gzip},
                 {"digest", img.blob.str()},
                 {"size", blob.size()}}}}};
    img.manifest = s.put_blob(m.dump());
    img.compressed = cfg_text.size() + blob.size();
    auto pl = s.begin_layer();
    gantry::Fd f(::openat(pl.rootfs_fd(), "file", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    EXPECT_TRUE(f);
    json meta = {{"blob", img.blob.str()}, {"size", content + 1024}, {"content_bytes", content}};
    pl.commit(img.diff_id, meta.dump());
    return img;
}

// A build cache record naming IMG's layer, last used AGE seconds ago.
void cache_step(Store& s, const std::string& key, const PruneImage& img, long age) {
    auto dir = s.root() / "build-cache" / "steps";
    stdfs::create_directories(dir);
    auto p = dir / (key + ".json");
    json j = {{"layer", img.blob.str()},
              {"diff_id", img.diff_id.str()},
              {"config", json::object()},
              {"created_by", "RUN x"}};
    gantry::fs::write_atomic(p, j.dump());
    struct timeval tv[2] = {{::time(nullptr) - age, 0}, {::time(nullptr) - age, 0}};
    ASSERT_EQ(::utimes(p.c_str(), tv), 0);
}

std::string key_of(char c) {
    return std::string(64, c);
}

} // namespace

TEST(ImageSizes, RecordedWhenNamedDroppedWhenNot) {
    PruneTmp t;
    Store s(t.path);
    auto a = prune_image(s, "a", 5000);
    s.update_refs([&](RefMap& m) { m["a:1"] = a.manifest; });
    auto sizes = s.recorded_sizes();
    ASSERT_EQ(sizes.count(a.manifest), 1u);
    EXPECT_EQ(sizes[a.manifest].unpacked, 5000u); // the file data, not the tar
    EXPECT_EQ(sizes[a.manifest].compressed, a.compressed);
    s.update_refs([&](RefMap& m) { m.erase("a:1"); });
    EXPECT_TRUE(s.recorded_sizes().empty());
}

TEST(ImageSizes, AnOlderStoreGetsThemComputedOnce) {
    PruneTmp t;
    Store s(t.path);
    auto a = prune_image(s, "a", 7000);
    // refs.json as gantry wrote it before sizes were recorded
    gantry::fs::write_atomic(s.root() / "refs.json",
                             json{{"refs", {{"a:1", a.manifest.str()}}}}.dump());
    EXPECT_TRUE(s.recorded_sizes().empty());
    auto got = st::image_sizes(s, {a.manifest});
    EXPECT_EQ(got[a.manifest].unpacked, 7000u);
    EXPECT_EQ(s.recorded_sizes()[a.manifest].unpacked, 7000u); // recorded for the next listing
    EXPECT_EQ(s.refs().at("a:1"), a.manifest);
}

TEST(ImageSizes, NoRecordWithoutTheUnpackedLayers) {
    PruneTmp t;
    Store s(t.path);
    auto a = prune_image(s, "a", 7000);
    st::remove_layer(s, a.diff_id);
    s.update_refs([&](RefMap& m) { m["a:1"] = a.manifest; });
    EXPECT_TRUE(s.recorded_sizes().empty());
    EXPECT_TRUE(st::image_sizes(s, {a.manifest}).empty());
}

TEST(BuildCachePrune, KeptUnlessAskedAndItsLayersWithIt) {
    PruneTmp t;
    Store s(t.path);
    auto img = prune_image(s, "cached", 100);
    cache_step(s, key_of('a'), img, 10);
    s.put_blob("nobody's");
    auto r = st::prune(s);
    EXPECT_EQ(r.blobs, 3u); // the loose blob, the cached layer's manifest and config
    EXPECT_TRUE(r.deleted_cache.empty());
    EXPECT_TRUE(s.has_blob(img.blob));
    EXPECT_TRUE(s.has_layer(img.diff_id));
    st::PruneOptions all;
    all.build_cache = true;
    r = st::prune(s, all);
    ASSERT_EQ(r.deleted_cache, std::vector<std::string>{key_of('a')});
    EXPECT_FALSE(s.has_blob(img.blob));
    EXPECT_FALSE(s.has_layer(img.diff_id));
    EXPECT_EQ(r.deleted_layers, std::vector<std::string>{img.diff_id.str()});
}

TEST(BuildCachePrune, UntilAndKeepStorageAndBuilderPrune) {
    PruneTmp t;
    Store s(t.path);
    auto old_img = prune_image(s, "old", 100), mid = prune_image(s, "mid", 100),
         fresh = prune_image(s, "fresh", 100);
    cache_step(s, key_of('a'), old_img, 3 * 86400);
    cache_step(s, key_of('b'), mid, 2 * 3600);
    cache_step(s, key_of('c'), fresh, 10);
    auto loose = s.put_blob("nobody's");
    st::PruneOptions o;
    o.cache_only = o.build_cache = true;
    o.until = st::parse_until("24h");
    auto r = st::prune(s, o);
    EXPECT_EQ(r.deleted_cache, std::vector<std::string>{key_of('a')});
    EXPECT_FALSE(s.has_layer(old_img.diff_id));
    EXPECT_TRUE(s.has_blob(loose)); // builder prune touches only what the cache kept
    EXPECT_TRUE(s.has_layer(mid.diff_id) && s.has_layer(fresh.diff_id));
    o.until.reset();
    o.keep_storage = 1; // the least recently used first, until at most 1 byte is left: all
    r = st::prune(s, o);
    EXPECT_EQ(r.deleted_cache, (std::vector<std::string>{key_of('b'), key_of('c')}));
    EXPECT_TRUE(st::build_cache_entries(s).empty());
}

TEST(BuildCachePrune, KeepStorageStopsAtTheCap) {
    std::vector<st::BuildCacheEntry> e(3);
    e[0].last_used = 300, e[0].bytes = 10;
    e[1].last_used = 100, e[1].bytes = 10;
    e[2].last_used = 200, e[2].bytes = 10;
    st::BuildCachePrune how{true, std::nullopt, 15};
    EXPECT_EQ(st::select_build_cache(e, how, 1000, {0, 0, 0}),
              (std::vector<std::size_t>{1, 2})); // oldest two go, 10 bytes stay
    how.keep_storage = 30;
    EXPECT_TRUE(st::select_build_cache(e, how, 1000, {0, 0, 0}).empty());
}

TEST(BuildCachePrune, ParseUntil) {
    EXPECT_EQ(st::parse_until("24h"), 86400);
    EXPECT_EQ(st::parse_until("1h30m"), 5400);
    EXPECT_EQ(st::parse_until("45s"), 45);
    for (auto bad : {"", "24", "h", "1d", "-1h", "24h!"})
        EXPECT_THROW(st::parse_until(bad), gantry::Error) << bad;
}

} // namespace prune_test
