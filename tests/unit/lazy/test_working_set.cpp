// lazy/working_set with a directory the nodes share (GANTRY_LAZY_WORKING_SETS): a store with no
// working set reads the shared one; the first run's record is published to both; a damaged
// shared file is not used and is replaced; a store that has one fills a shared dir that lacks
// it; anything but an absolute directory is a usage error.
#include "../support/temp_dir.hpp"
#include "lazy/working_set.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstdlib>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace lazy_working_set_test {

using namespace gantry;

namespace {

const std::string kHex(64, 'a');

// GANTRY_LAZY_WORKING_SETS=VALUE for one scope
struct SharedDir {
    explicit SharedDir(const std::string& value) {
        ::setenv("GANTRY_LAZY_WORKING_SETS", value.c_str(), 1);
    }
    ~SharedDir() { ::unsetenv("GANTRY_LAZY_WORKING_SETS"); }
};

std::vector<lazy::ChunkRef> refs(std::initializer_list<lazy::ChunkRef> l) {
    return std::vector<lazy::ChunkRef>(l);
}

} // namespace

TEST(LazyWorkingSet, SharedDirectoryIsReadAndWritten) {
    unit_support::TempDir t("gantry-ws-test");
    auto shared = t.path / "shared";
    fs::stdfs::create_directories(shared);
    SharedDir env(shared.string());
    store::Store a(t.path / "a"), b(t.path / "b");
    EXPECT_TRUE(lazy::WorkingSet::load(a, kHex).empty());
    {
        lazy::WorkingSet rec(a, kHex); // node a's first run records
        rec.read({1, 100});
        rec.read({0, 7});
        rec.read({1, 100}); // once
        rec.publish();
    }
    EXPECT_EQ(fs::read_file(shared / kHex), "1 100\n0 7\n");
    EXPECT_EQ(lazy::WorkingSet::load(b, kHex), refs({{1, 100}, {0, 7}})); // node b: shared
    {
        lazy::WorkingSet rec(b, kHex); // b has one to read: records nothing
        rec.read({2, 3});
        rec.publish();
    }
    EXPECT_EQ(fs::read_file(shared / kHex), "1 100\n0 7\n");
}

TEST(LazyWorkingSet, DamagedSharedFileIsNotUsedAndIsReplaced) {
    unit_support::TempDir t("gantry-ws-test");
    auto shared = t.path / "shared";
    fs::stdfs::create_directories(shared);
    SharedDir env(shared.string());
    fs::write_atomic(shared / kHex, "1 100\nnot a line\n", 0600);
    store::Store a(t.path / "a");
    EXPECT_TRUE(lazy::WorkingSet::load(a, kHex).empty());
    {
        lazy::WorkingSet rec(a, kHex);
        rec.read({0, 9});
        rec.publish();
    }
    EXPECT_EQ(fs::read_file(shared / kHex), "0 9\n");
    // a store that has one fills a shared directory that lacks it
    fs::stdfs::remove(shared / kHex);
    lazy::WorkingSet again(a, kHex);
    EXPECT_EQ(fs::read_file(shared / kHex), "0 9\n");
}

TEST(LazyWorkingSet, SharedDirectoryMustBeAnAbsoluteDirectory) {
    unit_support::TempDir t("gantry-ws-test");
    for (std::string bad : {std::string("relative/dir"), (t.path / "missing").string()}) {
        SharedDir env(bad);
        try {
            lazy::WorkingSet::shared_dir();
            ADD_FAILURE() << bad;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::usage);
            EXPECT_NE(e.message().find("GANTRY_LAZY_WORKING_SETS=" + bad), std::string::npos);
        }
    }
    SharedDir none("");
    EXPECT_EQ(lazy::WorkingSet::shared_dir(), "");
}

} // namespace lazy_working_set_test
