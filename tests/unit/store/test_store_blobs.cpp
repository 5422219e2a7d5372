// store::Store's content: the layout of a store root, blobs (put, read, verify), and pending
// blobs and layers, committed into place or removed when abandoned.
#include "oci/digest.hpp"
#include "store/store.hpp"
#include "store_test_support.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <utility>
#include <vector>

namespace store_blobs_test {

using namespace store_test;
using gantry::Errc;
using gantry::Fd;
using gantry::oci::Digest;
using gantry::store::PendingBlob;
using gantry::store::PendingLayer;
using gantry::store::Store;
namespace stdfs = std::filesystem;

// --- layout and blobs ------------------------------------------------------------------------

TEST(Store, CreatesLayout) {
    TempDir t;
    Store s(t.path() / "root");
    for (const char* sub : {"blobs/sha256", "layers/sha256", "tmp", "locks", "holds"})
        EXPECT_TRUE(stdfs::is_directory(t.path() / "root" / sub)) << sub;
    EXPECT_EQ(s.root(), t.path() / "root");
    EXPECT_EQ(s.tmp_dir(), t.path() / "root/tmp");
    Store again(t.path() / "root"); // opening an existing store is fine
    EXPECT_TRUE(again.refs().empty());
}

TEST(Store, PutReadHasBlob) {
    TempDir t;
    Store s(t.path());
    std::string data = "hello blob";
    Digest d = s.put_blob(data);
    EXPECT_EQ(d, Digest::of(data));
    EXPECT_TRUE(s.has_blob(d));
    EXPECT_EQ(s.blob_path(d), t.path() / "blobs/sha256" / d.hex());
    EXPECT_EQ(slurp(s.blob_path(d)), data);
    EXPECT_EQ(s.read_blob(d), data);
    EXPECT_EQ(s.blob_size(d), data.size());
    // Idempotent, and an expected digest that matches is accepted.
    EXPECT_EQ(s.put_blob(data, d), d);
    EXPECT_EQ(names_in(t.path() / "blobs/sha256"), std::vector<std::string>{d.hex()});
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());
    // The empty blob is a blob too.
    Digest e = s.put_blob("");
    EXPECT_TRUE(s.has_blob(e));
    EXPECT_EQ(s.read_blob(e), "");
}

TEST(Store, MissingBlob) {
    TempDir t;
    Store s(t.path());
    Digest d = Digest::of("never stored");
    EXPECT_FALSE(s.has_blob(d));
    auto e = error_of([&] { s.read_blob(d); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::not_found);
    EXPECT_TRUE(contains(e->message(), d.str())) << e->message();
    e = error_of([&] { s.blob_size(d); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::not_found);
    // A directory in the blob's place is not a blob.
    stdfs::create_directory(s.blob_path(d));
    EXPECT_FALSE(s.has_blob(d));
}

TEST(Store, WrongExpectedDigestLeavesNothing) {
    TempDir t;
    Store s(t.path());
    Digest expected = Digest::of("what the manifest promised");
    auto e = error_of([&] { s.put_blob("what we got", expected); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::invalid);
    EXPECT_TRUE(contains(e->message(), expected.str())) << e->message();
    EXPECT_TRUE(contains(e->message(), Digest::of("what we got").str())) << e->message();
    EXPECT_FALSE(s.has_blob(expected));
    EXPECT_FALSE(s.has_blob(Digest::of("what we got")));
    EXPECT_TRUE(names_in(t.path() / "blobs/sha256").empty());
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());
}

TEST(Store, CorruptBlobOnDisk) {
    TempDir t;
    Store s(t.path());
    Digest d = s.put_blob("original content");
    spit(s.blob_path(d), "tampered content");
    EXPECT_TRUE(s.has_blob(d)); // presence is not verification
    auto e = error_of([&] { s.read_blob(d); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::invalid);
    EXPECT_TRUE(contains(e->message(), d.str())) << e->message();
    EXPECT_TRUE(contains(e->message(), "corrupt")) << e->message();
    EXPECT_TRUE(contains(e->message(), Digest::of("tampered content").str())) << e->message();
    EXPECT_TRUE(contains(e->hint(), "fsck")) << e->hint();
}

TEST(Store, ReadBlobSizeLimit) {
    TempDir t;
    Store s(t.path());
    Digest d = s.put_blob(std::string(1000, 'x'));
    EXPECT_EQ(s.read_blob(d, 1000).size(), 1000u);
    auto e = error_of([&] { s.read_blob(d, 999); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), Errc::invalid);
}

// --- pending blobs ---------------------------------------------------------------------------

TEST(PendingBlob, CommitRenamesIntoPlace) {
    TempDir t;
    Store s(t.path());
    std::string data = "streamed blob";
    Digest d = Digest::of(data);
    {
        PendingBlob p = s.begin_blob();
        ASSERT_GE(p.fd(), 0);
        EXPECT_EQ(names_in(s.tmp_dir()).size(), 1u);
        gantry::fs::write_all(p.fd(), data.data(), data.size(), "blob");
        p.commit(d);
        EXPECT_TRUE(s.has_blob(d));
    }
    EXPECT_TRUE(s.has_blob(d)); // the destructor of a committed blob removes nothing
    EXPECT_EQ(s.read_blob(d), data);
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());
}

TEST(PendingBlob, DestructorRemovesUncommittedTempFile) {
    TempDir t;
    Store s(t.path());
    {
        PendingBlob p = s.begin_blob();
        gantry::fs::write_all(p.fd(), "partial", 7, "blob");
        ASSERT_EQ(names_in(s.tmp_dir()).size(), 1u);
    }
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());
    EXPECT_TRUE(names_in(t.path() / "blobs/sha256").empty());
}

TEST(PendingBlob, MovedFromDoesNotRemoveTheTempFile) {
    TempDir t;
    Store s(t.path());
    std::optional<PendingBlob> first(s.begin_blob());
    PendingBlob moved(std::move(*first));
    first.reset(); // destroys the moved-from object
    ASSERT_EQ(names_in(s.tmp_dir()).size(), 1u);
    gantry::fs::write_all(moved.fd(), "abc", 3, "blob");
    moved.commit(Digest::of("abc"));
    EXPECT_EQ(s.read_blob(Digest::of("abc")), "abc");
}

TEST(PendingBlob, UniqueTempNames) {
    TempDir t;
    Store s(t.path());
    PendingBlob a = s.begin_blob(), b = s.begin_blob();
    EXPECT_EQ(names_in(s.tmp_dir()).size(), 2u);
    EXPECT_NE(a.fd(), b.fd());
}

// --- pending layers --------------------------------------------------------------------------

TEST(PendingLayer, CommitAndDuplicateCommit) {
    TempDir t;
    Store s(t.path());
    Digest id = Digest::of("a layer tar");
    EXPECT_FALSE(s.has_layer(id));
    {
        PendingLayer pl = s.begin_layer();
        Fd f(::openat(pl.rootfs_fd(), "first", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        ASSERT_TRUE(f);
        pl.commit(id, "{\"size\":1}");
    }
    EXPECT_TRUE(s.has_layer(id));
    EXPECT_EQ(s.layer_dir(id), t.path() / "layers/sha256" / id.hex());
    EXPECT_EQ(s.layer_rootfs(id), s.layer_dir(id) / "rootfs");
    EXPECT_TRUE(present(s.layer_rootfs(id) / "first"));
    EXPECT_EQ(slurp(s.layer_dir(id) / "meta.json"), "{\"size\":1}");
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());

    // Another unpack of the same layer loses the race: no error, the first copy stays.
    {
        PendingLayer second = s.begin_layer();
        Fd f(::openat(second.rootfs_fd(), "second", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        ASSERT_TRUE(f);
        EXPECT_NO_THROW(second.commit(id, "{\"size\":2}"));
    }
    EXPECT_TRUE(present(s.layer_rootfs(id) / "first"));
    EXPECT_FALSE(present(s.layer_rootfs(id) / "second"));
    EXPECT_EQ(slurp(s.layer_dir(id) / "meta.json"), "{\"size\":1}");
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());
}

TEST(PendingLayer, DestructorRemovesUncommittedTree) {
    TempDir t;
    Store s(t.path());
    {
        PendingLayer pl = s.begin_layer();
        ASSERT_EQ(::mkdirat(pl.rootfs_fd(), "ro", 0755), 0);
        Fd f(::openat(pl.rootfs_fd(), "ro/f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
        ASSERT_TRUE(f);
        ASSERT_EQ(::fchmodat(pl.rootfs_fd(), "ro", 0555, 0), 0); // read-only dirs too
        EXPECT_EQ(names_in(s.tmp_dir()).size(), 1u);
    }
    EXPECT_TRUE(names_in(s.tmp_dir()).empty());
    EXPECT_TRUE(names_in(t.path() / "layers/sha256").empty());
}

TEST(PendingLayer, MovedFromDoesNotRemoveTheTree) {
    TempDir t;
    Store s(t.path());
    std::optional<PendingLayer> first(s.begin_layer());
    PendingLayer moved(std::move(*first));
    first.reset();
    ASSERT_EQ(names_in(s.tmp_dir()).size(), 1u);
    Digest id = Digest::of("moved layer");
    moved.commit(id, "{}");
    EXPECT_TRUE(s.has_layer(id));
}
} // namespace store_blobs_test
