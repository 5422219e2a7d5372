// layer::extract_tar on ordinary layers: entry names, files, directories, links, special
// files, modes and mtimes, and how a later entry replaces an earlier one at the same path.
#include "extract_test_support.hpp"
#include "layer/extract.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <grp.h>
#include <gtest/gtest.h>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace layer_extract_content_test {

using namespace layer_extract_test;
using gantry::Error;
using gantry::Fd;
using gantry::layer::ExtractStats;
using gantry::layer::normalize_entry_path;
namespace stdfs = std::filesystem;

namespace {

// Runs f in a child process as uid/gid 65534 (nobody); returns "" on success or the error.
std::string as_nobody(const std::function<void()>& f) {
    int pipefd[2];
    if (::pipe(pipefd) != 0) return "pipe failed";
    pid_t pid = ::fork();
    if (pid < 0) return "fork failed";
    if (pid == 0) {
        ::close(pipefd[0]);
        std::string err;
        try {
            if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)
                throw std::runtime_error("cannot drop privileges");
            f();
        } catch (const Error& e) {
            err = "Error: " + e.message();
        } catch (const std::exception& e) {
            err = e.what();
        }
        if (!err.empty()) (void)!::write(pipefd[1], err.data(), err.size());
        ::_exit(err.empty() ? 0 : 1);
    }
    ::close(pipefd[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(pipefd[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return out.empty() ? "child failed (status " + std::to_string(status) + ")" : out;
    return "";
}

} // namespace

// --- normalize_entry_path --------------------------------------------------------------------

TEST(NormalizeEntryPath, Cases) {
    using V = std::vector<std::string>;
    struct Case {
        std::string in;
        bool ok;
        V out;
    };
    const Case cases[] = {
        {"a", true, {"a"}},
        {"a/b/c", true, {"a", "b", "c"}},
        {"./a/b", true, {"a", "b"}},
        {"/a/b", true, {"a", "b"}},
        {"///a//b///", true, {"a", "b"}},
        {"a/./b/.", true, {"a", "b"}},
        {"dir/", true, {"dir"}},
        {"./", true, {}},
        {".", true, {}},
        {"/", true, {}},
        {"", true, {}},
        {"..", false, {}},
        {"../a", false, {}},
        {"a/..", false, {}},
        {"a/../b", false, {}},
        {"/../etc/passwd", false, {}},
        {"./a/../../b", false, {}},
        {"..a/b..", true, {"..a", "b.."}},
        {"...", true, {"..."}},
        {".wh..wh..opq", true, {".wh..wh..opq"}},
        {"a/.hidden", true, {"a", ".hidden"}},
    };
    for (const auto& c : cases) {
        V out{"stale"};
        bool ok = normalize_entry_path(c.in, out);
        EXPECT_EQ(ok, c.ok) << "\"" << c.in << "\"";
        if (c.ok) {
            EXPECT_EQ(out, c.out) << "\"" << c.in << "\"";
        }
    }
}

// --- regular content -------------------------------------------------------------------------

TEST(Extract, FilesDirsModesAndMtimes) {
    Sandbox sb;
    std::string big(300000, 'z');
    std::string tar = Tar()
                          .dir("bin", perm(0750, 1500000000))
                          .file("bin/tool", "#!/bin/sh\n", perm(0755, 1400000000))
                          .file("a.txt", "hello", perm(0640, 1300000000))
                          .file("empty", "", perm(0600))
                          .file("big", big, perm(0444))
                          .file("implicit/parent/f", "x")
                          .str();
    ExtractStats st = extract(tar, sb.root_fd(), false, 4093);
    EXPECT_EQ(st.entries, 6u);
    EXPECT_EQ(st.files, 5u);
    EXPECT_EQ(st.dirs, 1u);
    EXPECT_EQ(st.bytes, 10u + 5u + big.size() + 1u);

    auto r = sb.root();
    EXPECT_EQ(slurp(r / "bin/tool"), "#!/bin/sh\n");
    EXPECT_EQ(slurp(r / "a.txt"), "hello");
    EXPECT_EQ(slurp(r / "big"), big);
    EXPECT_EQ(slurp(r / "implicit/parent/f"), "x");
    EXPECT_TRUE(S_ISREG(lstat_of(r / "empty").st_mode));
    EXPECT_EQ(lstat_of(r / "empty").st_size, 0);

    EXPECT_EQ(lstat_of(r / "bin/tool").st_mode & 07777, 0755u);
    EXPECT_EQ(lstat_of(r / "a.txt").st_mode & 07777, 0640u);
    EXPECT_EQ(lstat_of(r / "empty").st_mode & 07777, 0600u);
    EXPECT_EQ(lstat_of(r / "big").st_mode & 07777, 0444u);
    EXPECT_EQ(lstat_of(r / "bin").st_mode & 07777, 0750u);
    EXPECT_TRUE(S_ISDIR(lstat_of(r / "implicit/parent").st_mode));
    EXPECT_EQ(lstat_of(r / "implicit/parent").st_mode & 07777, 0755u);

    EXPECT_EQ(lstat_of(r / "bin/tool").st_mtime, 1400000000);
    EXPECT_EQ(lstat_of(r / "a.txt").st_mtime, 1300000000);
    // The directory's mtime survives the creation of its children.
    EXPECT_EQ(lstat_of(r / "bin").st_mtime, 1500000000);
    sb.expect_outside_untouched();
}

TEST(Extract, LayerRootEntry) {
    Sandbox sb;
    std::string tar = Tar().dir("./", perm(0750, 1234567890)).file("./f", "1").str();
    extract(tar, sb.root_fd());
    EXPECT_EQ(slurp(sb.root() / "f"), "1");
    EXPECT_EQ(lstat_of(sb.root()).st_mode & 07777, 0750u);
    EXPECT_EQ(lstat_of(sb.root()).st_mtime, 1234567890);
}

TEST(Extract, RestrictiveDirModesAppliedAfterChildren) {
    Sandbox sb;
    std::string tar = Tar()
                          .dir("ro", perm(0555, 1000))
                          .file("ro/f", "in a read-only dir", perm(0444))
                          .dir("ro/sub", perm(0500, 2000))
                          .file("ro/sub/g", "deeper")
                          .dir("locked", perm(0000, 3000))
                          .file("locked/h", "h")
                          .whiteout("ro/.wh.gone")
                          .str();
    // As an unprivileged user, permissions are enforced: a mode applied too early would make
    // the children impossible to create.
    ASSERT_EQ(::chown(sb.top().c_str(), 65534, 65534), 0);
    ASSERT_EQ(::chown(sb.root().c_str(), 65534, 65534), 0);
    std::string err = as_nobody([&] {
        Fd root(::open(sb.root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!root) throw std::runtime_error("cannot open root as nobody");
        extract(tar, root.get());
    });
    ASSERT_EQ(err, "");
    auto r = sb.root();
    EXPECT_EQ(slurp(r / "ro/f"), "in a read-only dir");
    EXPECT_EQ(slurp(r / "ro/sub/g"), "deeper");
    EXPECT_EQ(slurp(r / "locked/h"), "h");
    EXPECT_EQ(lstat_of(r / "ro").st_mode & 07777, 0555u);
    EXPECT_EQ(lstat_of(r / "ro/sub").st_mode & 07777, 0500u);
    EXPECT_EQ(lstat_of(r / "locked").st_mode & 07777, 0000u);
    EXPECT_EQ(lstat_of(r / "ro").st_mtime, 1000);
    EXPECT_EQ(lstat_of(r / "ro/sub").st_mtime, 2000);
    EXPECT_EQ(lstat_of(r / "locked").st_mtime, 3000);
    struct stat wh = lstat_of(r / "ro/gone");
    EXPECT_TRUE(S_ISCHR(wh.st_mode));
    EXPECT_EQ(wh.st_rdev, makedev(0, 0));
    EXPECT_EQ(lstat_of(r / "ro/f").st_uid, 65534u);
}

TEST(Extract, SymlinksAndHardLinks) {
    Sandbox sb;
    std::string tar = Tar()
                          .file("a", "content", perm(0600))
                          .symlink("rel", "a", perm(0777, 1111))
                          .symlink("abs", "/etc/passwd")
                          .symlink("dangling", "no/such/thing")
                          .hardlink("b", "a")
                          .hardlink("/c", "/a") // absolute names are made relative
                          .dir("d")
                          .hardlink("d/e", "./a")
                          .str();
    ExtractStats st = extract(tar, sb.root_fd());
    EXPECT_EQ(st.symlinks, 3u);
    EXPECT_EQ(st.hardlinks, 3u);
    auto r = sb.root();
    EXPECT_EQ(stdfs::read_symlink(r / "rel"), "a");
    EXPECT_EQ(stdfs::read_symlink(r / "abs"), "/etc/passwd");
    EXPECT_EQ(stdfs::read_symlink(r / "dangling"), "no/such/thing");
    EXPECT_EQ(lstat_of(r / "rel").st_mtime, 1111);
    struct stat a = lstat_of(r / "a");
    EXPECT_EQ(a.st_nlink, 4u);
    for (const char* n : {"b", "c", "d/e"}) {
        struct stat s = lstat_of(r / n);
        EXPECT_EQ(s.st_ino, a.st_ino) << n;
        EXPECT_EQ(s.st_dev, a.st_dev) << n;
    }
    EXPECT_EQ(slurp(r / "d/e"), "content");
    sb.expect_outside_untouched();
}

TEST(Extract, HardLinkToSymlinkLinksTheSymlinkItself) {
    Sandbox sb;
    std::string tar = Tar().symlink("s", "/etc/passwd").hardlink("h", "s").str();
    extract(tar, sb.root_fd());
    EXPECT_TRUE(S_ISLNK(lstat_of(sb.root() / "h").st_mode));
    EXPECT_EQ(stdfs::read_symlink(sb.root() / "h"), "/etc/passwd");
}

TEST(Extract, FifoAndDevices) {
    Sandbox sb;
    std::string tar = Tar().fifo("pipe").chardev("null", 1, 3).str();
    ExtractStats st = extract(tar, sb.root_fd());
    EXPECT_TRUE(S_ISFIFO(lstat_of(sb.root() / "pipe").st_mode));
    // Device nodes need privilege: skipped and counted otherwise.
    EXPECT_FALSE(present(sb.root() / "null"));
    EXPECT_EQ(st.skipped_devices, 1u);

    Sandbox sb2;
    st = extract(tar, sb2.root_fd(), true);
    struct stat dev = lstat_of(sb2.root() / "null");
    EXPECT_TRUE(S_ISCHR(dev.st_mode));
    EXPECT_EQ(dev.st_rdev, makedev(1, 3));
    EXPECT_EQ(st.skipped_devices, 0u);
}
// --- replacement rules -----------------------------------------------------------------------

TEST(Extract, ReplacementRules) {
    Sandbox sb;
    std::string tar = Tar()
                          // a directory (with content) replaced by a file
                          .dir("x", perm(0555))
                          .file("x/child", "c")
                          .dir("x/sub")
                          .file("x/sub/grandchild", "g")
                          .file("x", "now a file", perm(0600))
                          // a file replaced by a directory
                          .file("y", "was a file")
                          .dir("y", perm(0711))
                          .file("y/z", "inside")
                          // a symlink replaced by a directory: the new one is real
                          .dir("target")
                          .symlink("s", "target")
                          .dir("s", perm(0700))
                          .file("s/in-s", "1")
                          // a file replaced by a symlink, a symlink by a file
                          .file("f2s", "file")
                          .symlink("f2s", "y")
                          .symlink("s2f", "y")
                          .file("s2f", "file again")
                          // a file replaced by a file
                          .file("twice", "first", perm(0600))
                          .file("twice", "second", perm(0644))
                          // an existing directory is kept when a directory entry comes again
                          .dir("kept")
                          .file("kept/child", "still here")
                          .dir("kept")
                          .str();
    extract(tar, sb.root_fd());
    auto r = sb.root();
    EXPECT_TRUE(S_ISREG(lstat_of(r / "x").st_mode));
    EXPECT_EQ(slurp(r / "x"), "now a file");
    EXPECT_EQ(lstat_of(r / "x").st_mode & 07777, 0600u);

    EXPECT_TRUE(S_ISDIR(lstat_of(r / "y").st_mode));
    EXPECT_EQ(lstat_of(r / "y").st_mode & 07777, 0711u);
    EXPECT_EQ(slurp(r / "y/z"), "inside");

    EXPECT_TRUE(S_ISDIR(lstat_of(r / "s").st_mode));
    EXPECT_EQ(slurp(r / "s/in-s"), "1");
    EXPECT_FALSE(present(r / "target/in-s"));

    EXPECT_TRUE(S_ISLNK(lstat_of(r / "f2s").st_mode));
    EXPECT_TRUE(S_ISREG(lstat_of(r / "s2f").st_mode));
    EXPECT_EQ(slurp(r / "s2f"), "file again");
    EXPECT_EQ(slurp(r / "twice"), "second");
    EXPECT_EQ(lstat_of(r / "twice").st_mode & 07777, 0644u);
    EXPECT_EQ(slurp(r / "kept/child"), "still here");
}

TEST(Extract, DirectoryReplacedByFileThenRecreated) {
    Sandbox sb;
    std::string tar = Tar()
                          .dir("d", perm(0700))
                          .file("d/old", "o")
                          .file("d", "file")
                          .dir("d", perm(0750))
                          .file("d/new", "n")
                          .str();
    extract(tar, sb.root_fd());
    EXPECT_TRUE(S_ISDIR(lstat_of(sb.root() / "d").st_mode));
    EXPECT_FALSE(present(sb.root() / "d/old"));
    EXPECT_EQ(slurp(sb.root() / "d/new"), "n");
    EXPECT_EQ(lstat_of(sb.root() / "d").st_mode & 07777, 0750u);
}

TEST(Extract, RepeatedDirectoryEntryLastWins) {
    // As with tar(1) and docker: the metadata of the last entry for a path applies.
    Sandbox sb;
    std::string tar =
        Tar().dir("d", perm(0700, 1000)).file("d/f", "x").dir("d", perm(0755, 2000)).str();
    extract(tar, sb.root_fd());
    EXPECT_EQ(lstat_of(sb.root() / "d").st_mode & 07777, 0755u);
    EXPECT_EQ(lstat_of(sb.root() / "d").st_mtime, 2000);
}

TEST(Extract, SymlinkReplacedByDirectory) {
    // A parent directory resolved through a symlink must not be reused once the symlink is gone.
    Sandbox sb;
    std::string tar = Tar()
                          .dir("real")
                          .dir("other")
                          .symlink("l", "real")
                          .file("l/x", "through the symlink")
                          .dir("l", perm(0755))
                          .file("l/y", "in the new directory")
                          .symlink("m", "real")
                          .file("m/p", "p")
                          .symlink("m", "other")
                          .file("m/q", "q")
                          .str();
    extract(tar, sb.root_fd());
    auto r = sb.root();
    EXPECT_EQ(slurp(r / "real/x"), "through the symlink");
    EXPECT_TRUE(S_ISDIR(lstat_of(r / "l").st_mode));
    EXPECT_EQ(slurp(r / "l/y"), "in the new directory");
    EXPECT_FALSE(present(r / "real/y"));
    EXPECT_EQ(slurp(r / "real/p"), "p");
    EXPECT_EQ(slurp(r / "other/q"), "q");
    EXPECT_FALSE(present(r / "real/q"));
}

TEST(Extract, DirectoryEntryBelowSymlinkGetsItsMode) {
    // "l/sub" names real/sub through the in-layer symlink l; its mode and mtime still apply.
    Sandbox sb;
    std::string tar = Tar()
                          .dir("real")
                          .symlink("l", "real")
                          .dir("l/sub", perm(0550, 4242))
                          .file("l/sub/f", "f")
                          .str();
    extract(tar, sb.root_fd());
    auto r = sb.root();
    EXPECT_EQ(slurp(r / "real/sub/f"), "f");
    EXPECT_EQ(lstat_of(r / "real/sub").st_mode & 07777, 0550u);
    EXPECT_EQ(lstat_of(r / "real/sub").st_mtime, 4242);
}

} // namespace layer_extract_content_test
