// A container's scratch directory (store/scratch): layout, deferred deletion through trash/ in
// batches, one reaper at a time, the write and full-layer reports (the size units used by run's
// flags are tests/unit/util/test_units.cpp's).
#include "../support/temp_dir.hpp"
#include "oci/digest.hpp"
#include "store/scratch.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sched.h>
#include <string>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace store_scratch_test {

using unit_support::TempDir;
namespace stdfs = std::filesystem;
using gantry::Errc;
using gantry::Error;
using gantry::store::Layer;
using gantry::store::Scratch;

namespace {

// The image a container uses: its manifest blob must be in the store (a Scratch refuses an image
// that was removed before its hold was taken).
const gantry::oci::Digest kImage = gantry::oci::Digest::of("a manifest");

gantry::store::Store store_with_image(const stdfs::path& root) {
    gantry::store::Store st(root);
    st.put_blob("a manifest");
    return st;
}

bool empty_dir(const stdfs::path& p) {
    return !stdfs::exists(p) || stdfs::is_empty(p);
}

void write_bytes(const stdfs::path& p, std::size_t n) {
    std::ofstream(p) << std::string(n, 'x');
}

} // namespace

TEST(Scratch, DiskLayerLayoutGoesToTheTrash) {
    TempDir t("gantry-scratch");
    auto st = store_with_image(t.path);
    {
        Scratch s(st, "abc123", Layer::disk, kImage);
        // the image is held while it runs: a use hold, nothing written for it
        EXPECT_EQ(st.images_in_use().count(kImage), 1u);
        EXPECT_TRUE(st.holds().empty());
        EXPECT_TRUE(stdfs::is_directory(s.upper()));
        EXPECT_TRUE(stdfs::is_directory(s.work()));
        EXPECT_TRUE(stdfs::is_directory(s.mount_point()));
        write_bytes(s.upper() / "f", 10);
    }
    EXPECT_FALSE(stdfs::exists(t.path / "containers/abc123"));
    EXPECT_TRUE(st.images_in_use().empty());
    // one container: below the batch, it waits in the trash for the next reaper
    EXPECT_TRUE(stdfs::exists(t.path / "trash/abc123/upper/f"));
}

// overlayfs leaves the work directory's work/ and index/ mode 000, and for a volatile mount
// (gantry's) work/incompat/volatile inside work/ too, as the e2e package test found: what waits
// in trash/ is removable by its owner with rm -rf (issue 51: `rm -rf ~/.local/share/gantry`
// failed on work/work/incompat). As root, rm runs as nobody, owning it.
TEST(Scratch, WhatWaitsInTheTrashIsRemovableByItsOwner) {
    TempDir t("gantry-scratch");
    auto st = store_with_image(t.path);
    {
        Scratch s(st, "ovl1", Layer::disk, kImage);
        stdfs::create_directories(s.work() / "work/incompat/volatile");
        stdfs::create_directories(s.work() / "index");
        write_bytes(s.work() / "index/#10", 3);
        for (const char* d : {"work/incompat/volatile", "work/incompat", "work", "index"})
            stdfs::permissions(s.work() / d, stdfs::perms::none);
    }
    auto entry = t.path / "trash/ovl1";
    ASSERT_TRUE(stdfs::is_directory(entry));
    for (const char* d : {"work/work", "work/index", "work/work/incompat/volatile"})
        EXPECT_EQ(stdfs::status(entry / d).permissions() & stdfs::perms::owner_all,
                  stdfs::perms::owner_all)
            << d;
    uid_t owner = ::geteuid() == 0 ? 65534 : ::geteuid();
    if (::geteuid() == 0) {
        ::chmod(t.path.c_str(), 0755);
        for (auto& e : stdfs::recursive_directory_iterator(t.path / "trash"))
            ASSERT_EQ(::lchown(e.path().c_str(), owner, owner), 0) << e.path();
        ASSERT_EQ(::chown((t.path / "trash").c_str(), owner, owner), 0);
    }
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (::setresgid(owner, owner, owner) != 0 || ::setresuid(owner, owner, owner) != 0)
            ::_exit(126);
        ::execlp("rm", "rm", "-rf", entry.c_str(), nullptr);
        ::_exit(127);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "rm -rf failed: " << status;
    EXPECT_FALSE(stdfs::exists(entry));
}

// What an earlier gantry left in trash/ (work dirs still mode 000, not empty): the reaper, run
// as the store's owner (nobody, when the test runs as root), deletes it all the same.
TEST(Scratch, TheReaperDeletesOldEntriesWhateverTheirModes) {
    TempDir t("gantry-scratch");
    auto old = t.path / "trash/old1/work";
    stdfs::create_directories(old / "work/incompat/volatile");
    write_bytes(old / "work/incompat/volatile/x", 1);
    for (const char* d : {"work/incompat/volatile", "work/incompat", "work"})
        stdfs::permissions(old / d, stdfs::perms::none);
    uid_t owner = ::geteuid() == 0 ? 65534 : ::geteuid();
    if (::geteuid() == 0) {
        ::chmod(t.path.c_str(), 0755);
        ASSERT_EQ(::chown(t.path.c_str(), owner, owner), 0);
        for (auto& e : stdfs::recursive_directory_iterator(t.path))
            ASSERT_EQ(::lchown(e.path().c_str(), owner, owner), 0) << e.path();
    }
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (::setresgid(owner, owner, owner) != 0 || ::setresuid(owner, owner, owner) != 0)
            ::_exit(126);
        ::_exit(gantry::store::reap_trash(t.path) == 1 ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    EXPECT_TRUE(empty_dir(t.path / "trash"));
}

TEST(Scratch, MemoryLayerCreatesNothingButTheHold) {
    TempDir t("gantry-scratch");
    auto st = store_with_image(t.path);
    {
        Scratch s(st, "mem1", Layer::memory, kImage);
        EXPECT_EQ(st.images_in_use().count(kImage), 1u);
        EXPECT_TRUE(stdfs::is_directory(s.mount_point()));
        EXPECT_FALSE(stdfs::exists(t.path / "containers/mem1"));
        // GPU files, CDI's config.json, a flattened root: the directory appears when asked for
        EXPECT_TRUE(stdfs::is_directory(s.dir()));
    }
    EXPECT_FALSE(stdfs::exists(t.path / "containers/mem1"));
    EXPECT_TRUE(stdfs::exists(t.path / "trash/mem1")); // what it held is deleted with the rest
    EXPECT_TRUE(st.images_in_use().empty());
    { Scratch s(st, "mem2", Layer::memory, kImage); }
    EXPECT_FALSE(stdfs::exists(t.path / "trash/mem2")); // never created, nothing to delete
}

TEST(Scratch, AFullBatchStartsOneReaper) {
    TempDir t("gantry-scratch");
    auto st = store_with_image(t.path);
    for (unsigned i = 0; i + 1 < gantry::store::kReapBatch; ++i) {
        Scratch s(st, "c" + std::to_string(i), Layer::disk, kImage);
    }
    // a reaper is detached: give one (wrongly) started the time to empty the trash
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(std::distance(stdfs::directory_iterator(t.path / "trash"), {}),
              gantry::store::kReapBatch - 1);
    { Scratch s(st, "last", Layer::disk, kImage); }
    for (int i = 0; i < 250 && !empty_dir(t.path / "trash"); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(empty_dir(t.path / "trash")); // the batch is full: all of it was deleted
}

TEST(Scratch, ReadOnlyHasNoWritableLayerAndKeptStays) {
    TempDir t("gantry-scratch");
    auto st = store_with_image(t.path);
    {
        Scratch s(st, "ro1", Layer::none, kImage, /*recorded=*/true); // a detached container
        EXPECT_FALSE(stdfs::exists(s.upper()));
        EXPECT_TRUE(stdfs::is_directory(s.mount_point()));
        s.dir();
        s.keep();
    }
    EXPECT_TRUE(stdfs::is_directory(t.path / "containers/ro1"));
    EXPECT_EQ(st.holds().count("ro1"), 1u);  // kept: `gantry rm` releases it
    EXPECT_TRUE(st.images_in_use().empty()); // a file hold, not this process's lock
}

TEST(Scratch, AnExistingIdIsAConflictNotAReuse) {
    TempDir t("gantry-scratch");
    auto st = store_with_image(t.path);
    Scratch a(st, "same", Layer::disk, kImage);
    a.keep();
    EXPECT_THROW(Scratch(st, "same", Layer::disk, kImage), Error);
    EXPECT_TRUE(stdfs::is_directory(a.upper())); // the first one is untouched
}

TEST(Scratch, OneReaperAtATime) {
    TempDir t("gantry-scratch");
    stdfs::create_directories(t.path / "trash/x/y");
    gantry::Fd lock(::open((t.path / "trash").c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_EQ(::flock(lock.get(), LOCK_EX), 0);
    EXPECT_EQ(gantry::store::reap_trash(t.path), 0u); // busy: returns at once
    EXPECT_TRUE(stdfs::exists(t.path / "trash/x/y"));
    ::flock(lock.get(), LOCK_UN);
    EXPECT_EQ(gantry::store::reap_trash(t.path), 1u);
    EXPECT_TRUE(empty_dir(t.path / "trash"));
    EXPECT_EQ(gantry::store::reap_trash(t.path / "missing"), 0u);
}

// An entry that cannot be deleted (here a mount point, EBUSY) stays; the reaper still deletes
// the others and returns. In a child with its own user and mount namespaces, so that it needs
// no privilege and mounts nothing on the host.
TEST(Scratch, AnEntryThatCannotBeDeletedDoesNotStopTheReaper) {
    TempDir t("gantry-scratch");
    for (const char* e : {"a/upper", "busy", "z/upper/deep"})
        stdfs::create_directories(t.path / "trash" / e);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        uid_t uid = ::geteuid();
        if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) ::_exit(77);
        std::ofstream("/proc/self/setgroups") << "deny";
        std::ofstream("/proc/self/uid_map") << "0 " << uid << " 1";
        if (::mount("none", (t.path / "trash/busy").c_str(), "tmpfs", 0, nullptr) != 0) ::_exit(77);
        auto n = gantry::store::reap_trash(t.path);
        bool kept = stdfs::exists(t.path / "trash/busy");
        bool others = !stdfs::exists(t.path / "trash/a") && !stdfs::exists(t.path / "trash/z");
        ::_exit(n == 2 && kept && others ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "no user and mount namespace here";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the reaper stopped at the busy entry or kept others";
}

TEST(Scratch, WriteReportNamesTheBiggestDirectory) {
    TempDir t("gantry-scratch");
    stdfs::create_directories(t.path / "upper/out/ckpt");
    stdfs::create_directories(t.path / "upper/tmp");
    write_bytes(t.path / "upper/out/ckpt/big", 300000);
    write_bytes(t.path / "upper/tmp/small", 5000);
    EXPECT_FALSE(gantry::store::write_report(t.path / "upper", 10u << 20));
    auto r = gantry::store::write_report(t.path / "upper", 100000);
    ASSERT_TRUE(r);
    EXPECT_NE(r->find("/out/ckpt"), std::string::npos) << *r;
    EXPECT_NE(r->find("-v /scratch/out:/out/ckpt"), std::string::npos) << *r;
    auto m = gantry::store::write_report(t.path / "upper", 100000, Layer::memory);
    ASSERT_TRUE(m);
    EXPECT_NE(m->find("held in memory"), std::string::npos) << *m;
    EXPECT_NE(m->find("--writable-layer disk"), std::string::npos) << *m;
    // the reports for a layer in memory, given its filesystem's descriptor: here a directory
    // whose filesystem is nowhere near full (a full tmpfs is tested end to end)
    gantry::Fd d(::open(t.path.c_str(), O_RDONLY | O_DIRECTORY));
    auto reports = gantry::store::memory_layer_reports(d.get(), 100000);
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_NE(reports[0].find("/out/ckpt"), std::string::npos) << reports[0];
    EXPECT_NE(reports[0].find("held in memory"), std::string::npos) << reports[0];
    EXPECT_TRUE(gantry::store::memory_layer_reports(d.get(), 1ull << 60).empty());
}

TEST(Scratch, AnImageRemovedBeforeItsHoldIsReportedAsRemoved) {
    TempDir t("gantry-scratch");
    auto st = store_with_image(t.path);
    ::unlink(st.blob_path(kImage).c_str()); // an rmi collected it between lookup and hold
    for (bool recorded : {false, true}) {
        try {
            Scratch s(st, recorded ? "held1" : "used1", Layer::memory, kImage, recorded);
            FAIL() << "a scratch for a removed image was made";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::not_found);
            EXPECT_NE(e.message().find("was removed"), std::string::npos) << e.message();
        }
        EXPECT_TRUE(st.holds().empty()); // a detached run's hold is withdrawn again
        EXPECT_TRUE(st.images_in_use().empty());
    }
}

} // namespace store_scratch_test
