// sqsh::add_to_cache: a squashfs file becomes the node's cache entry only when its sha256 is the
// blob's, written to a temporary and linked in; a copy abandoned half-way (ABANDONED said true:
// `gantry rm` of a container whose monitor was making the entry) adds nothing and leaves no
// temporary behind.
#include "../support/temp_dir.hpp"
#include "oci/digest.hpp"
#include "sqsh/cache.hpp"

#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace sqsh_cache_test {

namespace sqsh = gantry::sqsh;
namespace fs = std::filesystem;

namespace {

struct Source {
    explicit Source(const fs::path& dir) : path(dir / "image.sqsh") {
        bytes.resize(40u << 20); // more than two 16 MiB steps of the copy
        for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 31 / 7);
        int w = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        EXPECT_EQ(::write(w, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
        ::close(w);
        fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    }
    ~Source() { ::close(fd); }
    fs::path path;
    std::string bytes;
    int fd = -1;
};

sqsh::CacheImage image_of(const std::string& manifest_text) {
    return {"registry.test/team/app:1", gantry::oci::Digest::of(manifest_text), manifest_text,
            gantry::oci::Digest::of("{}"), "{}"};
}

// Every file under the cache's directory (objects, temporaries, references).
std::vector<std::string> files_under(const fs::path& dir) {
    std::vector<std::string> out;
    if (!fs::exists(dir)) return out;
    for (auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) out.push_back(e.path().lexically_relative(dir).string());
    return out;
}

} // namespace

TEST(SqshCache, AbandonedHalfWayAddsNothingAndLeavesNoTemporary) {
    unit_support::TempDir tmp("gantry-sqsh-cache");
    gantry::store::Store store(tmp.path / "store");
    Source src(tmp.path);
    auto blob = gantry::oci::Digest::of(src.bytes);
    int asked = 0;
    auto image = image_of(R"({"n":1})");
    auto added = sqsh::add_to_cache(store, image, src.fd, src.bytes.size(), blob,
                                    [&asked] { return ++asked == 2; });
    EXPECT_EQ(added, sqsh::Added::abandoned);
    EXPECT_EQ(asked, 2); // asked at the start and after 16 MiB, not after every read
    auto cache_dir = fs::path(sqsh::cached_file(store, image.manifest)).parent_path().parent_path();
    EXPECT_EQ(files_under(cache_dir), std::vector<std::string>{});

    // never abandoned: the entry is made, asked at 0, 16 and 32 MiB
    asked = 0;
    EXPECT_EQ(sqsh::add_to_cache(store, image, src.fd, src.bytes.size(), blob,
                                 [&asked] { return ++asked > 3; }),
              sqsh::Added::added);
    EXPECT_EQ(asked, 3);
    EXPECT_EQ(fs::file_size(sqsh::cached_file(store, image.manifest)), src.bytes.size());
}

TEST(SqshCache, WrongDigestAddsNothing) {
    unit_support::TempDir tmp("gantry-sqsh-cache");
    gantry::store::Store store(tmp.path / "store");
    Source src(tmp.path);
    auto image = image_of(R"({"n":2})");
    EXPECT_EQ(sqsh::add_to_cache(store, image, src.fd, src.bytes.size(),
                                 gantry::oci::Digest::of("other bytes")),
              sqsh::Added::wrong_digest);
    EXPECT_FALSE(fs::exists(sqsh::cached_file(store, image.manifest)));
    auto sqsh_dir = fs::path(sqsh::cached_file(store, image.manifest)).parent_path();
    EXPECT_EQ(files_under(sqsh_dir), std::vector<std::string>{}); // no temporary left
}

} // namespace sqsh_cache_test
