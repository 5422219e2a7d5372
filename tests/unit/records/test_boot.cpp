// Records kept for a boot (records/boot.hpp): which policies keep one, the copy as a boot finds
// it (exited, no process of the last boot named), its removal, and a copy naming another
// container skipped.
#include "../support/temp_dir.hpp"
#include "records/boot.hpp"
#include "util/fs.hpp"

#include <filesystem>
#include <gtest/gtest.h>

namespace records_boot_test {

using unit_support::TempDir;
namespace stdfs = std::filesystem;
using namespace gantry::records;

ContainerState kept_container(const stdfs::path& store, const std::string& id,
                              const std::string& policy) {
    ContainerState s;
    s.name = "c-" + id;
    s.id = id;
    s.store_root = store.string();
    s.container_dir = (store / "containers" / id).string();
    s.restart_policy = policy;
    s.status = "running";
    s.pid = 1234;
    s.monitor = 1200;
    s.stdin_fd = 6;
    stdfs::create_directories(s.container_dir);
    return s;
}

TEST(Boot, WhichPoliciesComeBack) {
    ContainerState s;
    for (auto [policy, stopped, wanted] : {std::tuple{"always", false, true},
                                           {"always", true, true},
                                           {"unless-stopped", false, true},
                                           {"unless-stopped", true, false},
                                           {"on-failure", false, false},
                                           {"no", false, false},
                                           {"", false, false}}) {
        s.restart_policy = policy;
        s.stopped_by_user = stopped;
        EXPECT_EQ(wanted_after_boot(s), wanted) << policy << " " << stopped;
    }
}

TEST(Boot, KeptAsABootFindsItAndForgotten) {
    TempDir t("gantry-boot");
    auto a = kept_container(t.path, "aaaa", "always");
    auto u = kept_container(t.path, "bbbb", "unless-stopped");
    auto n = kept_container(t.path, "cccc", "on-failure");
    keep_for_boot(a);
    keep_for_boot(u);
    keep_for_boot(n);
    EXPECT_FALSE(stdfs::exists(stdfs::path(n.container_dir) / kBootFile));
    auto kept = kept_for_boot(t.path);
    ASSERT_EQ(kept.size(), 2u);
    for (auto& k : kept) {
        EXPECT_EQ(k.status, "exited");
        EXPECT_EQ(k.pid, 0);
        EXPECT_EQ(k.monitor, 0);
        EXPECT_EQ(k.stdin_fd, 0);
    }
    // stopped by its user: an unless-stopped container's copy goes
    u.stopped_by_user = true;
    keep_for_boot(u);
    kept = kept_for_boot(t.path);
    ASSERT_EQ(kept.size(), 1u);
    EXPECT_EQ(kept[0].id, "aaaa");
    EXPECT_EQ(kept[0].name, "c-aaaa");
    // a copy in another container's directory names another container: skipped
    stdfs::create_directories(t.path / "containers" / "dddd");
    gantry::fs::write_atomic(t.path / "containers" / "dddd" / kBootFile,
                             gantry::fs::read_file(stdfs::path(a.container_dir) / kBootFile));
    kept = kept_for_boot(t.path);
    ASSERT_EQ(kept.size(), 1u);
    EXPECT_EQ(kept[0].id, "aaaa");
}

} // namespace records_boot_test
