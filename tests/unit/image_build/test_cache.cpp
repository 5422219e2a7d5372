// gantry build's step cache: keys change with exactly what decides a step's result, and entries
// survive a round trip and fail safe when damaged.
#include "image_build/cache.hpp"
#include "util/error.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

namespace build_cache_test {

using namespace gantry::image_build;
namespace fs = std::filesystem;

TEST(BuildCacheKey, DependsOnParentInstructionAndInputs) {
    auto k = step_key("sha256:aa", "RUN echo hi");
    EXPECT_EQ(k.size(), 64u);
    EXPECT_EQ(k, step_key("sha256:aa", "RUN echo hi"));
    EXPECT_NE(k, step_key("sha256:ab", "RUN echo hi"));
    EXPECT_NE(k, step_key("sha256:aa", "RUN echo hi "));
    auto c = step_key(k, "COPY a /a", {"sha256:11"});
    EXPECT_NE(c, step_key(k, "COPY a /a", {"sha256:12"}));
    EXPECT_NE(c, step_key(k, "COPY a /a"));
    // Field boundaries are part of the key: moving text between fields changes it.
    EXPECT_NE(step_key("ab", "c"), step_key("a", "bc"));
    EXPECT_NE(step_key("p", "i", {"x", "y"}), step_key("p", "i", {"xy"}));
}

TEST(BuildCache, RecordLookupAndDamagedEntries) {
    fs::path dir = fs::temp_directory_path() / ("gantry-build-cache-" + std::to_string(getpid()));
    fs::remove_all(dir);
    StepCache cache(dir / "cache");
    auto key = step_key("sha256:aa", "RUN true");
    EXPECT_FALSE(cache.lookup(key));
    CacheEntry e{"sha256:l", "sha256:d", {{"Env", {"A=1"}}}, "RUN /bin/sh -c true"};
    cache.record(key, e);
    auto got = cache.lookup(key);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->layer_digest, "sha256:l");
    EXPECT_EQ(got->diff_id, "sha256:d");
    EXPECT_EQ(got->config, e.config);
    EXPECT_EQ(got->created_by, e.created_by);
    // A truncated entry (as a crash without temp + rename would leave) is a miss, not an error.
    std::ofstream(dir / "cache" / (key + ".json")) << "{\"layer\":";
    EXPECT_FALSE(cache.lookup(key));
    // A key that is not a digest never reaches the filesystem.
    EXPECT_FALSE(cache.lookup("../../etc/passwd"));
    EXPECT_THROW(cache.record("../x", e), gantry::Error);
    fs::remove_all(dir);
}

} // namespace build_cache_test
